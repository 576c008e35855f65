"""Usage reports: every field of ``GET /admin/usage`` and ``GET /usage`` against usage rows written here."""

from __future__ import annotations

from typing import Any

from gateway.store.usage import UsageRow, period_bounds, period_statements, usage_statement
from tests.conftest import GatewayHarness

MARCH = 1_772_323_200_000 + 86_400_000  # 2026-03-02T00:00Z
APRIL = 1_775_001_600_000 + 86_400_000  # 2026-04-02T00:00Z


def _row(
    request_id: str,
    workspace_id: str,
    provider: str,
    resource: str,
    *,
    segment: int = 0,
    characters: int | None = None,
    audio_seconds: float | None = None,
    input_tokens: int | None = None,
    output_tokens: int | None = None,
    provider_micros: int,
    final_micros: int,
    at: int = MARCH,
) -> UsageRow:
    return UsageRow(
        request_id=request_id,
        workspace_id=workspace_id,
        api_key_id=None,
        provider=provider,
        resource=resource,
        model=None,
        segment=segment,
        characters=characters,
        audio_seconds=audio_seconds,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        unit_prices={},
        provider_cost_micros=provider_micros,
        markup_percentage=20.0,
        final_cost_micros=final_micros,
        created_at=at,
    )


async def _write(gw: GatewayHarness, rows: list[UsageRow]) -> None:
    statements = []
    for workspace_id, period in sorted({(r.workspace_id, r.billing_period) for r in rows}):
        statements.extend(period_statements(workspace_id, period, MARCH))
    statements.extend(usage_statement(r) for r in rows)
    await gw.db.batch(statements)


def _bucket(
    requests: int, provider: int, final: int, characters: int = 0, audio: float = 0.0, inp: int = 0, out: int = 0
) -> dict[str, Any]:
    return {
        "requests": requests,
        "providerCost": provider / 1e6,
        "finalCost": final / 1e6,
        "characters": characters,
        "audioSeconds": audio,
        "inputTokens": inp,
        "outputTokens": out,
    }


async def test_report_fields_match_rows_by_provider_and_resource(gw: GatewayHarness) -> None:
    ws = gw.workspace_id
    r = await gw.client.post("/admin/workspaces", json={"name": "other"}, headers=gw.admin)
    other = r.json()["id"]
    rows = [
        # openai: one TTS request in two segments (counted once), one LLM request
        _row("req_a", ws, "openai", "tts", characters=100, provider_micros=1_500, final_micros=1_800),
        _row("req_a", ws, "openai", "tts", segment=1, characters=40, provider_micros=600, final_micros=720),
        _row("req_b", ws, "openai", "llm", input_tokens=12, output_tokens=30, provider_micros=250, final_micros=300),
        # deepgram: two STT requests
        _row("req_c", ws, "deepgram", "stt", audio_seconds=1.25, provider_micros=90, final_micros=108),
        _row("req_d", ws, "deepgram", "stt", audio_seconds=2.5, provider_micros=180, final_micros=216),
        # elevenlabs: a TTS request
        _row("req_e", ws, "elevenlabs", "tts", characters=7, provider_micros=2_100, final_micros=2_520),
        # rows that must not show up: another period, another workspace
        _row("req_f", ws, "openai", "tts", characters=999, provider_micros=9_999, final_micros=9_999, at=APRIL),
        _row("req_g", other, "openai", "tts", characters=5, provider_micros=77, final_micros=88),
    ]
    await _write(gw, rows)

    r = await gw.client.get(f"/admin/usage?workspaceId={ws}&period=2026-03", headers=gw.admin)
    assert r.status_code == 200, r.text
    report = r.json()
    start, end = period_bounds("2026-03")
    assert report["workspaceId"] == ws
    assert report["period"] == {"start": start, "end": end, "name": "2026-03"}
    assert report["totals"] == {"requests": 5, "providerCost": 4_720 / 1e6, "finalCost": 5_664 / 1e6}
    assert report["byProvider"] == {
        "openai": _bucket(2, 2_350, 2_820, characters=140, inp=12, out=30),
        "deepgram": _bucket(2, 270, 324, audio=3.75),
        "elevenlabs": _bucket(1, 2_100, 2_520, characters=7),
    }
    assert report["byResource"] == {
        "tts": _bucket(2, 4_200, 5_040, characters=147),
        "llm": _bucket(1, 250, 300, inp=12, out=30),
        "stt": _bucket(2, 270, 324, audio=3.75),
    }
    # The workspace's own view is the same report.
    own = await gw.client.get("/usage?period=2026-03", headers=gw.auth())
    assert own.status_code == 200 and own.json() == report

    april = (await gw.client.get("/usage?period=2026-04", headers=gw.auth())).json()
    assert april["totals"] == {"requests": 1, "providerCost": 0.009999, "finalCost": 0.009999}
    assert april["byProvider"] == {"openai": _bucket(1, 9_999, 9_999, characters=999)}
    assert april["byResource"] == {"tts": _bucket(1, 9_999, 9_999, characters=999)}


async def test_empty_period_reports_zeroes(gw: GatewayHarness) -> None:
    report = (await gw.client.get("/usage?period=2025-01", headers=gw.auth())).json()
    assert report["totals"] == {"requests": 0, "providerCost": 0.0, "finalCost": 0.0}
    assert report["byProvider"] == {} and report["byResource"] == {}

"""/voice/synthesize and /voice/transcribe end to end in-process, against the OpenAI and Deepgram fakes on loopback."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.conftest import GatewayHarness
from tests.fakes.audio import sine_wav
from tests.fakes.harness import FakeServer, Fault

TEXT = "Hello there, this is the gateway speaking."


async def synthesize(gw: GatewayHarness, text: str = TEXT, **extra: object):
    return await gw.client.post("/voice/synthesize", json={"text": text, **extra}, headers=gw.auth())


async def usage_rows(gw: GatewayHarness) -> list[dict]:
    await gw.settle()
    return await gw.db.all("SELECT * FROM usage_records ORDER BY created_at")


async def failover_rows(gw: GatewayHarness) -> list[dict]:
    await gw.settle()
    return await gw.db.all("SELECT * FROM failover_logs ORDER BY id")


async def test_synthesize_returns_audio_with_billing_headers(gw: GatewayHarness) -> None:
    r = await synthesize(gw)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "audio/mpeg"
    assert r.headers["x-provider"] == "openai"  # cheapest per character (tts-1 $15/1M vs Aura-2 $30/1M)
    assert r.headers["x-attempts"] == "1"
    assert r.headers["x-characters"] == str(len(TEXT))
    assert r.headers["x-request-id"].startswith("req_")
    assert r.content[:2] == b"\xff\xfb"  # MPEG audio frames
    expected = Decimal("15") / 1_000_000 * len(TEXT) * Decimal("1.2")  # list price x chars x 20 % markup
    assert Decimal(r.headers["x-cost"]) == expected.quantize(Decimal("0.000001"))

    rows = await usage_rows(gw)
    assert len(rows) == 1
    row = rows[0]
    assert row["request_id"] == r.headers["x-request-id"]
    assert (row["provider"], row["resource"], row["characters"]) == ("openai", "tts", len(TEXT))
    assert row["workspace_id"] == gw.workspace_id and row["api_key_id"] == gw.key_id
    assert row["provider_cost_micros"] == round(15 * len(TEXT))  # $15/1M chars = 15 micro-dollars per char
    assert row["final_cost_micros"] == round(15 * len(TEXT) * 1.2)
    periods = await gw.db.all("SELECT * FROM billing_periods WHERE workspace_id = ?", gw.workspace_id)
    assert [p["status"] for p in periods] == ["current"] and periods[0]["period"] == row["billing_period"]


@pytest.mark.parametrize("fmt, content_type", [("wav", "audio/wav"), ("pcm", "audio/pcm")])
async def test_synthesize_formats(gw: GatewayHarness, fmt: str, content_type: str) -> None:
    r = await synthesize(gw, voiceConfig={"format": fmt})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == content_type
    if fmt == "wav":
        assert r.content[:4] == b"RIFF"


@pytest.mark.parametrize(
    "fault",
    [
        Fault("status", status=503),
        Fault("status", status=500),
        Fault("status", status=429, retry_after="3"),
        Fault("status", status=429),
        Fault("malformed"),
        Fault("hang"),
    ],
    ids=["503", "500", "429-retry-after", "429-bare", "malformed", "hang"],
)
async def test_synthesize_fails_over_to_the_next_vendor(
    gw: GatewayHarness, openai_fake: FakeServer, fault: Fault
) -> None:
    openai_fake.state.always(fault)
    r = await synthesize(gw)
    assert r.status_code == 200, r.text
    assert r.headers["x-provider"] == "deepgram"
    assert r.headers["x-attempts"] == "2"
    logs = await failover_rows(gw)
    assert len(logs) == 1
    log = logs[0]
    assert (log["from_provider"], log["to_provider"], log["result"]) == ("openai", "deepgram", "switched")
    assert log["request_id"] == r.headers["x-request-id"] and log["workspace_id"] == gw.workspace_id
    rows = await usage_rows(gw)
    assert [(u["provider"], u["characters"]) for u in rows] == [("deepgram", len(TEXT))]


async def test_synthesize_fails_over_when_the_vendor_is_down(gw: GatewayHarness, deepgram_fake: FakeServer) -> None:
    # Nothing listens on this port: connection refused.
    from tests.fakes.harness import free_port

    gw.gateway.runtime.env["OPENAI_BASE_URL"] = f"http://127.0.0.1:{free_port()}/v1"  # type: ignore[index]
    gw.gateway.directory.invalidate()
    r = await synthesize(gw)
    assert r.status_code == 200, r.text
    assert (r.headers["x-provider"], r.headers["x-attempts"]) == ("deepgram", "2")
    assert (await failover_rows(gw))[0]["error_class"] == "connection"


async def test_every_vendor_failing_gives_502_with_attempts(
    gw: GatewayHarness, openai_fake: FakeServer, deepgram_fake: FakeServer
) -> None:
    openai_fake.state.always(Fault("status", status=503))
    deepgram_fake.state.always(Fault("status", status=500))
    r = await synthesize(gw)
    assert r.status_code == 502
    error = r.json()["error"]
    assert error["type"] == "upstream_error"
    assert [a["provider"] for a in error["attempts"]] == ["openai", "deepgram"]
    assert error["request_id"] == r.headers["x-request-id"]
    logs = await failover_rows(gw)
    assert [(x["from_provider"], x["to_provider"], x["result"]) for x in logs] == [
        ("openai", "deepgram", "switched"),
        ("deepgram", None, "exhausted"),
    ]
    assert await usage_rows(gw) == []


async def test_every_vendor_rejecting_the_input_is_a_4xx(
    gw: GatewayHarness, openai_fake: FakeServer, deepgram_fake: FakeServer
) -> None:
    openai_fake.state.always(Fault("status", status=400))
    deepgram_fake.state.always(Fault("status", status=400))
    r = await synthesize(gw)
    assert r.status_code == 400
    assert r.json()["error"]["type"] == "invalid_request"
    assert len(r.json()["error"]["attempts"]) == 2


async def test_pinned_provider_is_used(gw: GatewayHarness) -> None:
    r = await synthesize(gw, provider="deepgram")
    assert r.status_code == 200 and r.headers["x-provider"] == "deepgram"


BAD_SYNTH_BODIES = [
    ({"text": ""}, 422),
    ({"text": "   \n\t"}, 422),
    ({"text": "a" * 5001}, 422),
    ({"text": 42}, 422),
    ({"text": "hi", "voiceConfig": {"format": "flac"}}, 422),
    ({"text": "hi", "voiceConfig": {"speed": 9}}, 422),
    ({"text": "hi", "voiceConfig": "fast"}, 422),
    ({"nope": 1}, 422),
    ({"text": "hi", "provider": "acme-tts"}, 400),
]


@pytest.mark.parametrize("body, status", BAD_SYNTH_BODIES)
async def test_bad_synthesize_input_is_a_clear_error(gw: GatewayHarness, body: dict, status: int) -> None:
    r = await gw.client.post("/voice/synthesize", json=body, headers=gw.auth())
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert error["type"] == "invalid_request" and error["message"] and error["request_id"]


@pytest.mark.parametrize("raw", [b"{not json", b"", b"[1,2]", b"\xff\xfe"])
async def test_non_json_bodies_are_400(gw: GatewayHarness, raw: bytes) -> None:
    r = await gw.client.post(
        "/voice/synthesize", content=raw, headers={**gw.auth(), "Content-Type": "application/json"}
    )
    assert r.status_code == 400, r.text
    assert r.json()["error"]["type"] == "invalid_request"


async def test_workspace_claim_must_match_the_key(gw: GatewayHarness) -> None:
    r = await synthesize(gw, workspaceId="ws_someone_else")
    assert r.status_code == 403 and r.json()["error"]["type"] == "forbidden"
    r = await synthesize(gw, workspaceId=gw.workspace_id)
    assert r.status_code == 200


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer vgw_12345678_x"}],
)
async def test_missing_or_invalid_key_is_401(gw: GatewayHarness, headers: dict) -> None:
    r = await gw.client.post("/voice/synthesize", json={"text": "hi"}, headers=headers)
    assert r.status_code == 401
    assert r.json()["error"]["type"] == "unauthorized"


async def test_transcribe_bills_the_duration_the_vendor_reports(gw: GatewayHarness) -> None:
    audio = sine_wav(2.5)
    r = await gw.client.post(
        "/voice/transcribe?language=en", content=audio, headers={**gw.auth(), "Content-Type": "audio/wav"}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["provider"] == "deepgram"  # Nova-3 is cheaper per minute than whisper-1
    assert body["text"] and body["words"] and body["requestId"] == r.headers["x-request-id"]
    assert body["duration"] == pytest.approx(2.5, abs=0.01)
    rows = await usage_rows(gw)
    assert len(rows) == 1 and rows[0]["resource"] == "stt"
    assert rows[0]["audio_seconds"] == pytest.approx(2.5, abs=0.01)
    from providers import get_provider
    from providers.base import Unit

    per_second = get_provider("deepgram").prices.for_model(rows[0]["model"])[Unit.AUDIO_SECOND]
    assert rows[0]["provider_cost_micros"] == round(per_second * Decimal("2.5") * 1_000_000)


async def test_transcribe_fails_over(gw: GatewayHarness, deepgram_fake: FakeServer) -> None:
    deepgram_fake.state.always(Fault("status", status=503))
    r = await gw.client.post(
        "/voice/transcribe", content=sine_wav(1.0), headers={**gw.auth(), "Content-Type": "audio/wav"}
    )
    assert r.status_code == 200, r.text
    assert r.json()["provider"] == "openai" and r.headers["x-attempts"] == "2"


@pytest.mark.parametrize(
    "content, content_type, status, error_type",
    [
        (b"", "audio/wav", 400, "invalid_request"),
        (b"this is plainly text, not audio" * 10, "audio/wav", 400, "invalid_request"),
        (b'{"hello": "world"}', "application/json", 415, "unsupported_media_type"),
        (b"<html></html>", "text/html", 415, "unsupported_media_type"),
    ],
)
async def test_bad_transcribe_input(
    gw: GatewayHarness, content: bytes, content_type: str, status: int, error_type: str
) -> None:
    r = await gw.client.post("/voice/transcribe", content=content, headers={**gw.auth(), "Content-Type": content_type})
    assert r.status_code == status, r.text
    assert r.json()["error"]["type"] == error_type


async def test_oversized_audio_is_413_without_reading_it_all(gw: GatewayHarness) -> None:
    sent = 0

    async def thirty_megabytes():
        nonlocal sent
        chunk = b"\0" * (1024 * 1024)
        for _ in range(30):
            sent += len(chunk)
            yield chunk

    r = await gw.client.post(
        "/voice/transcribe", content=thirty_megabytes(), headers={**gw.auth(), "Content-Type": "audio/wav"}
    )
    assert r.status_code == 413
    assert r.json()["error"]["type"] == "payload_too_large"
    assert sent <= 27 * 1024 * 1024  # stopped reading right after the 25 MB limit


async def test_declared_oversized_body_is_refused_up_front(gw: GatewayHarness) -> None:
    r = await gw.client.post(
        "/voice/transcribe",
        content=b"RIFF",
        headers={**gw.auth(), "Content-Type": "audio/wav", "Content-Length": str(30 * 1024 * 1024)},
    )
    assert r.status_code == 413 and r.json()["error"]["type"] == "payload_too_large"


async def test_unknown_route_and_method_use_the_envelope(gw: GatewayHarness) -> None:
    r = await gw.client.get("/nope", headers=gw.auth())
    assert r.status_code == 404 and r.json()["error"]["type"] == "not_found"
    assert r.headers["x-request-id"]
    r = await gw.client.get("/voice/synthesize", headers=gw.auth())
    assert r.status_code == 405 and r.json()["error"]["request_id"]


async def test_health_is_public_and_cheap(gw: GatewayHarness) -> None:
    r = await gw.client.get("/health")
    assert r.status_code == 200 and r.json()["status"] == "ok" and r.json()["version"]


async def test_providers_health_lists_every_vendor(gw: GatewayHarness) -> None:
    await synthesize(gw)
    await gw.settle()
    await gw.gateway.health.flush()
    gw.gateway.health._fetched_at = None  # force a fresh snapshot
    r = await gw.client.get("/voice/providers/health", headers=gw.auth())
    assert r.status_code == 200
    health = r.json()
    for provider in ("openai", "deepgram", "elevenlabs", "google", "gemini", "anthropic", "polly", "workers_ai"):
        assert provider in health
        assert {"status", "errorRate", "latencyMs", "lastCheck", "circuit", "capabilities"} <= set(health[provider])
    assert health["openai"]["status"] == "healthy" and health["openai"]["latencyMs"] is not None
    assert health["elevenlabs"]["status"] == "unconfigured"
    assert set(health["deepgram"]["capabilities"]) == {"tts", "stt"}


async def test_metrics_count_requests_attempts_and_failovers(gw: GatewayHarness, openai_fake: FakeServer) -> None:
    assert (await gw.client.get("/metrics", headers=gw.auth())).status_code == 403
    openai_fake.state.fail(Fault("status", status=503))
    assert (await synthesize(gw)).status_code == 200
    r = await gw.client.get("/metrics", headers=gw.admin)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    text = r.text
    assert 'vgw_http_requests_total{method="POST",route="/voice/synthesize",status="200"} 1' in text
    assert 'vgw_vendor_attempts_total{provider="openai",outcome="server_error"} 1' in text
    assert 'vgw_vendor_attempts_total{provider="deepgram",outcome="ok"} 1' in text
    assert 'vgw_failovers_total{from="openai",to="deepgram"} 1' in text
    assert gw.key not in text

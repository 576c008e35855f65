"""The end of every paid response waits for its usage row: as soon as the client has the whole response — an
ordinary body, a chunked stream, an LLM event stream — the row is in the database, with no after-response flush."""

from __future__ import annotations

from tests.conftest import GatewayHarness
from tests.fakes.audio import sine_wav


async def _rows(gw: GatewayHarness, request_id: str) -> int:
    row = await gw.db.first("SELECT COUNT(*) AS n FROM usage_records WHERE request_id = ?", request_id)
    return int(row["n"])


async def test_every_paid_response_ends_after_its_row_is_written(gw: GatewayHarness) -> None:
    calls = [
        ("POST", "/voice/synthesize", {"json": {"text": "hello there"}}),
        ("POST", "/voice/stream", {"json": {"text": "One sentence. And another."}}),
        ("POST", "/voice/transcribe", {"content": sine_wav(1.0), "headers": {"Content-Type": "audio/wav"}}),
        ("POST", "/llm/generate", {"json": {"prompt": "hi"}}),
        ("POST", "/llm/generate", {"json": {"prompt": "hi", "stream": True}}),
        ("POST", "/v1/audio/speech", {"json": {"model": "tts-1", "input": "hello", "voice": "alloy"}}),
    ]
    for method, path, kwargs in calls:
        headers = {**gw.auth(), **kwargs.pop("headers", {})}
        r = await gw.client.request(method, path, headers=headers, **kwargs)
        assert r.status_code == 200, (path, r.text[:300])
        assert await _rows(gw, r.headers["x-request-id"]) >= 1, f"{path}: the response ended before its row was written"
        logged = await gw.db.first(
            "SELECT COUNT(*) AS n FROM request_log WHERE request_id = ?", r.headers["x-request-id"]
        )
        assert logged["n"] == 1, f"{path}: the response ended before its request-log row was written"
    assert gw.gateway.recorder.pending == 0

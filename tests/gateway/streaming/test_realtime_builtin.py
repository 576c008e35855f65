"""/voice/realtime on the built-in recognizer (PocketSphinx in a worker process per session), with real espeak-ng
speech: alone with no vendor account, as the last leg after a vendor drops, and at its session bound."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.conftest import ADMIN_TOKEN, require_modules
from tests.fakes.harness import FakeServer, Fault

from .conftest import REALTIME_ENV, GatewayServer, deepgram_ws_env, running_gateway
from .test_realtime import collect, finals

require_modules("pocketsphinx")

RATE = 16000
FRAME = RATE * 2 // 50  # 20 ms of linear16, as a microphone sends it
SENTENCES = ("the quick brown fox jumps over the lazy dog", "please call me tomorrow morning at the office")
CONTENT_WORDS = {"quick", "brown", "fox", "jumps", "lazy", "dog", "please", "call", "tomorrow", "morning", "office"}


@pytest.fixture(scope="module")
def speech() -> bytes:
    """Two sentences of espeak-ng at 16 kHz, each followed by a second of silence (two turns)."""

    async def make() -> bytes:
        from providers.base import Call, SynthesisRequest
        from providers.local import LocalProvider

        provider = LocalProvider()
        async with httpx.AsyncClient() as http:
            call = Call(http=http, credentials=provider.credentials_from_env({}), timeout=60)  # type: ignore[arg-type]
            out = bytes(RATE)  # half a second of silence first
            for text in SENTENCES:
                result = await provider.synthesize(call, SynthesisRequest(text=text, format="pcm", sample_rate=RATE))
                out += result.audio + bytes(RATE * 2)
            return out

    return asyncio.run(make())


async def enable_builtin(gw: GatewayServer) -> None:
    async with httpx.AsyncClient(base_url=gw.url) as client:
        r = await client.put(
            "/admin/platform/settings",
            json={"builtinFallbackEnabled": True},
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        )
        assert r.status_code == 200, r.text


@pytest.fixture
async def builtin_gateway() -> AsyncIterator[GatewayServer]:
    async for server in running_gateway(
        {
            **REALTIME_ENV,
            "REALTIME_STALL_SECONDS": "10",
            "ATTEMPT_TIMEOUT_SECONDS": "30",
            "LOCAL_REALTIME_SESSIONS": "1",
        }
    ):
        await enable_builtin(server)
        yield server


async def stream(
    gw: GatewayServer, audio: bytes, pace: float = 0.0, query: str = ""
) -> tuple[list[dict[str, Any]], int | None]:
    """Send ``audio`` in 20 ms frames (``pace`` seconds apart), then CloseStream; every event and the close code."""
    async with connect(
        f"{gw.ws_url}/voice/realtime?sample_rate={RATE}{query}",
        additional_headers={"Authorization": f"Bearer {gw.key}"},
    ) as ws:
        reader = asyncio.ensure_future(collect(ws))
        with contextlib.suppress(ConnectionClosed):  # a refused session closes while we are still sending
            for start in range(0, len(audio), FRAME):
                await ws.send(audio[start : start + FRAME])
                await asyncio.sleep(pace)
            await ws.send(json.dumps({"type": "CloseStream"}))
        return await asyncio.wait_for(reader, 60), ws.close_code


def content_heard(events: list[dict[str, Any]]) -> set[str]:
    return CONTENT_WORDS & set(finals(events).lower().split())


async def test_builtin_recognizer_serves_a_session_with_no_vendor_account(
    builtin_gateway: GatewayServer, speech: bytes
) -> None:
    events, code = await stream(builtin_gateway, speech)
    assert code == 1000, events
    assert len(content_heard(events)) >= len(CONTENT_WORDS) // 2 + 1, finals(events)  # most content words
    turns = [(e["event"], e["turn_index"]) for e in events if e["type"] == "turn"]
    assert turns == [("StartOfTurn", 0), ("EndOfTurn", 0), ("StartOfTurn", 1), ("EndOfTurn", 1)]
    interim = [e for e in events if e["type"] == "transcript" and not e["is_final"]]
    assert interim and all(e["text"] for e in interim)  # partial hypotheses arrive before each final
    first_final = next(e for e in events if e["type"] == "transcript" and e["is_final"])
    assert events.index(interim[0]) < events.index(first_final)
    # Times are on the session's clock: the first sentence starts after the half second of lead-in silence.
    assert 0.3 <= first_final["start"] < first_final["end"] < 4.5
    assert all(w["start"] <= w["end"] for w in first_final["words"])
    assert {e["provider"] for e in events if e["type"] in ("transcript", "turn")} == {"local"}
    end = events[-1]
    assert end["type"] == "session_end" and end["cost"] == 0
    assert end["segments"] == [{"provider": "local", "model": "pocketsphinx", "audio_seconds": end["duration"]}]
    rows = await builtin_gateway.usage_rows()
    assert [(r["provider"], r["model"], r["resource"], r["final_cost_micros"]) for r in rows] == [
        ("local", "pocketsphinx-en-us", "stt", 0)
    ]


async def test_a_busy_builtin_recognizer_closes_1013_with_the_reason(
    builtin_gateway: GatewayServer, speech: bytes
) -> None:
    headers = {"Authorization": f"Bearer {builtin_gateway.key}"}
    async with connect(
        f"{builtin_gateway.ws_url}/voice/realtime?sample_rate={RATE}", additional_headers=headers
    ) as first:
        await first.send(speech[:FRAME])
        await asyncio.sleep(0.5)  # the first session holds the only slot (LOCAL_REALTIME_SESSIONS=1)
        events, code = await stream(builtin_gateway, speech[: FRAME * 5])
        assert code == 1013
        error = events[0]["error"]
        assert error["type"] == "rate_limited" and "limit of 1 concurrent sessions" in error["message"]
        await first.send(json.dumps({"type": "CloseStream"}))
        await collect(first)
    # The slot is free again once the first session ended.
    events, code = await stream(builtin_gateway, speech[: RATE * 2])
    assert code == 1000


@pytest.fixture
async def deepgram_then_builtin(deepgram_ws: FakeServer) -> AsyncIterator[GatewayServer]:
    async for server in running_gateway(
        {**deepgram_ws_env(deepgram_ws), "REALTIME_STALL_SECONDS": "10", "ATTEMPT_TIMEOUT_SECONDS": "30"}
    ):
        await enable_builtin(server)
        yield server


async def test_a_session_whose_vendor_drops_continues_on_the_builtin_recognizer(
    deepgram_then_builtin: GatewayServer, deepgram_ws: FakeServer, speech: bytes
) -> None:
    # Flux drops the connection one second in, Nova-3 refuses: the built-in engine gets the replayed audio.
    deepgram_ws.state.fail(Fault("cut", delay=1.0), Fault("status", status=503))
    events, code = await stream(deepgram_then_builtin, speech, pace=0.001)
    assert code == 1000, events
    switch = [e for e in events if e["type"] == "provider_switch"]
    assert [(s["from"], s["to"], s["model"]) for s in switch] == [("deepgram", "local", "pocketsphinx")]
    assert switch[0]["replayed_seconds"] >= 0.9  # nothing was final yet: everything so far is replayed
    assert len(content_heard(events)) >= len(CONTENT_WORDS) // 2 + 1, finals(events)
    assert [e["event"] for e in events if e["type"] == "turn"].count("EndOfTurn") >= 1
    rows = await deepgram_then_builtin.usage_rows()
    assert [(r["provider"], r["segment"]) for r in rows] == [("deepgram", 0), ("local", 1)]


@pytest.fixture
async def nothing_configured() -> AsyncIterator[GatewayServer]:
    async for server in running_gateway({}):  # no vendor key, built-in fallback turned off by the platform
        yield server


@pytest.mark.parametrize(("path", "asked"), [("/voice/realtime", "realtime transcription"),
                                             ("/voice/speak-stream", "streaming speech")])  # fmt: skip
async def test_nothing_to_serve_closes_4503_naming_who_could(
    nothing_configured: GatewayServer, path: str, asked: str
) -> None:
    headers = {"Authorization": f"Bearer {nothing_configured.key}"}
    async with connect(f"{nothing_configured.ws_url}{path}", additional_headers=headers) as ws:
        events = await collect(ws)
    assert ws.close_code == 4503
    error = events[0]["error"]
    assert error["type"] == "no_providers_available"
    assert asked in error["message"] and "needs one of: deepgram, workers_ai, local" in error["message"]
    assert ws.close_reason and ws.close_reason in error["message"]

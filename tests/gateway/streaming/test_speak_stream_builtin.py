"""/voice/speak-stream on the built-in engine (espeak-ng per Flush), and as the leg after a vendor drops."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from websockets.asyncio.client import connect

from tests.conftest import require_modules
from tests.fakes.deepgram_ws import speak_audio
from tests.fakes.harness import FakeServer, Fault

from .conftest import GatewayServer, deepgram_ws_env, running_gateway
from .test_realtime_builtin import enable_builtin
from .test_speak_stream import FIRST, SECOND, finish, speak, until_flushed

require_modules("espeakng_loader")

LONG = "This flush is long enough that a Clear arrives while espeak is still speaking it. " * 20


@pytest.fixture
async def builtin_gateway() -> AsyncIterator[GatewayServer]:
    async for server in running_gateway({"SPEAK_STALL_SECONDS": "10"}):
        await enable_builtin(server)
        yield server


def seconds(audio: bytes, rate: int) -> float:
    return len(audio) / 2 / rate


@pytest.mark.parametrize("rate", [24000, 16000, 48000])
async def test_audio_per_flush_with_no_vendor_account(builtin_gateway: GatewayServer, rate: int) -> None:
    events: list[dict[str, Any]] = []
    url = f"{builtin_gateway.ws_url}/voice/speak-stream?sample_rate={rate}"
    async with connect(url, additional_headers={"Authorization": f"Bearer {builtin_gateway.key}"}) as ws:
        await speak(ws, FIRST)
        first = await until_flushed(ws, events)
        await speak(ws, SECOND)
        second = await until_flushed(ws, events)
        await finish(ws, events)
    # espeak-ng speaks ~2.5 words a second: each flush is its own audio, at the session's rate, of speech length.
    assert 1.0 < seconds(first, rate) < 4.0 and 0.8 < seconds(second, rate) < 3.0
    assert max(abs(int.from_bytes(first[i : i + 2], "little", signed=True)) for i in range(0, len(first), 2)) > 2000
    assert [(e["type"], e.get("sequence_id"), e.get("provider")) for e in events[:2]] == [
        ("Flushed", 0, "local"),
        ("Flushed", 1, "local"),
    ]
    assert [e["type"] for e in events] == ["Flushed", "Flushed", "session_end"] and ws.close_code == 1000
    end = events[-1]
    assert end["type"] == "session_end" and end["characters"] == len(FIRST) + len(SECOND) and end["cost"] == 0
    rows = await builtin_gateway.usage_rows()
    assert [(r["provider"], r["model"], r["characters"]) for r in rows] == [
        ("local", "espeak-ng", len(FIRST) + len(SECOND))
    ]


async def test_clear_stops_the_flush_being_spoken(builtin_gateway: GatewayServer) -> None:
    events: list[dict[str, Any]] = []
    url = f"{builtin_gateway.ws_url}/voice/speak-stream"
    async with connect(url, additional_headers={"Authorization": f"Bearer {builtin_gateway.key}"}) as ws:
        await speak(ws, LONG)
        await ws.send(json.dumps({"type": "Clear"}))
        audio = b""
        while True:  # until Cleared: whatever audio of the cleared flush arrives before it
            message = await asyncio.wait_for(ws.recv(), 10)
            if isinstance(message, bytes):
                audio += message
                continue
            events.append(json.loads(message))
            if events[-1]["type"] == "Cleared":
                break
        await speak(ws, SECOND)
        second = await until_flushed(ws, events)
        await finish(ws, events)
    assert seconds(audio, 24000) < 5  # the long flush (~80 s of speech) was not spoken out
    assert 0.8 < seconds(second, 24000) < 3.0  # and the next one is spoken normally
    assert [e["type"] for e in events[:2]] == ["Cleared", "Flushed"]
    assert events[1]["sequence_id"] == 1


@pytest.fixture
async def deepgram_then_builtin(deepgram_ws: FakeServer) -> AsyncIterator[GatewayServer]:
    async for server in running_gateway({**deepgram_ws_env(deepgram_ws), "SPEAK_STALL_SECONDS": "2"}):
        await enable_builtin(server)
        yield server


async def test_the_builtin_engine_takes_over_when_the_vendor_drops(
    deepgram_then_builtin: GatewayServer, deepgram_ws: FakeServer
) -> None:
    deepgram_ws.state.fail(Fault("cut", after_chunks=1))
    events: list[dict[str, Any]] = []
    url = f"{deepgram_then_builtin.ws_url}/voice/speak-stream"
    async with connect(url, additional_headers={"Authorization": f"Bearer {deepgram_then_builtin.key}"}) as ws:
        await speak(ws, FIRST)
        first = await until_flushed(ws, events)
        await speak(ws, SECOND)
        second = await until_flushed(ws, events)
        await finish(ws, events)
    assert first == speak_audio(FIRST, 24000)  # the vendor's flush, before it dropped
    assert [e["type"] for e in events] == ["Flushed", "provider_switch", "Flushed", "session_end"]
    assert ws.close_code == 1000
    switch = [e for e in events if e["type"] == "provider_switch"]
    assert [(s["from"], s["to"]) for s in switch] == [("deepgram", "local")]
    assert [e.get("provider") for e in events if e["type"] == "Flushed"] == ["deepgram", "local"]
    assert 0.8 < seconds(second, 24000) < 3.0

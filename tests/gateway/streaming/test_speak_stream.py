"""/voice/speak-stream over real WebSockets: Aura Speak/Flush/Clear/Close relayed, failover between flushes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect

from tests.fakes.deepgram_ws import speak_audio
from tests.fakes.harness import FakeServer, Fault

from .conftest import GatewayServer, deepgram_ws_env, running_gateway, workers_ws_env

FIRST, SECOND = "Hello there, how are you today?", "I am the second flush."


@pytest.fixture
async def speak_gateway(deepgram_ws: FakeServer) -> AsyncIterator[GatewayServer]:
    env = {**deepgram_ws_env(deepgram_ws), **workers_ws_env(deepgram_ws), "SPEAK_STALL_SECONDS": "0.5"}
    async for server in running_gateway(env):
        yield server


async def until_flushed(ws: ClientConnection, events: list[dict[str, Any]]) -> bytes:
    audio = b""
    while True:
        message = await asyncio.wait_for(ws.recv(), 5)
        if isinstance(message, bytes):
            audio += message
            continue
        events.append(json.loads(message))
        if events[-1]["type"] == "Flushed":
            return audio


async def speak(ws: ClientConnection, text: str) -> None:
    await ws.send(json.dumps({"type": "Speak", "text": text}))
    await ws.send(json.dumps({"type": "Flush"}))


async def finish(ws: ClientConnection, events: list[dict[str, Any]]) -> None:
    await ws.send(json.dumps({"type": "Close"}))
    async for message in ws:
        assert isinstance(message, str)
        events.append(json.loads(message))


async def test_speak_flush_close(speak_gateway: GatewayServer, deepgram_ws: FakeServer) -> None:
    events: list[dict[str, Any]] = []
    url = f"{speak_gateway.ws_url}/voice/speak-stream?provider=deepgram&voice=thalia"
    async with connect(url, additional_headers={"Authorization": f"Bearer {speak_gateway.key}"}) as ws:
        await ws.send(json.dumps({"type": "Speak", "text": "Hello "}))
        await speak(ws, "there.")
        audio = await until_flushed(ws, events)
        await finish(ws, events)
    assert audio == speak_audio("Hello there.", 24000)
    assert events[0] == {"type": "Flushed", "sequence_id": 0, "provider": "deepgram"}
    assert events[-1]["type"] == "session_end" and events[-1]["characters"] == len("Hello there.")
    assert ws.close_code == 1000
    assert deepgram_ws.state.requests[0].path == "/v1/speak"
    assert "model=aura-2-thalia-en" in deepgram_ws.state.requests[0].query
    rows = await speak_gateway.usage_rows()
    assert [(r["provider"], r["model"], r["characters"], r["resource"]) for r in rows] == [
        ("deepgram", "aura-2-thalia-en", len("Hello there."), "tts")
    ]


async def test_vendor_dying_between_flushes_fails_over(speak_gateway: GatewayServer, deepgram_ws: FakeServer) -> None:
    deepgram_ws.state.fail(Fault("cut", after_chunks=1))  # the first vendor answers one flush, then drops
    events: list[dict[str, Any]] = []
    url = f"{speak_gateway.ws_url}/voice/speak-stream"
    async with connect(url, additional_headers={"Authorization": f"Bearer {speak_gateway.key}"}) as ws:
        await speak(ws, FIRST)
        first = await until_flushed(ws, events)
        await speak(ws, SECOND)
        second = await until_flushed(ws, events)
        await finish(ws, events)
    assert first == speak_audio(FIRST, 24000) and second == speak_audio(SECOND, 24000)
    kinds = [e["type"] for e in events]
    assert kinds == ["Flushed", "provider_switch", "Flushed", "session_end"]
    switch = events[1]
    assert (switch["from"], switch["to"], switch["replayed_flushes"]) == ("workers_ai", "deepgram", 1)
    assert [e["sequence_id"] for e in events if e["type"] == "Flushed"] == [0, 1]
    paths = [r.path for r in deepgram_ws.state.requests]
    assert paths == ["/v1/acct/default/workers-ai", "/v1/speak"]  # Aura-1 through AI Gateway is cheaper: first
    assert deepgram_ws.state.requests[0].headers["cf-aig-authorization"] == "Bearer test-cf-token"
    rows = await speak_gateway.usage_rows()
    assert [(r["provider"], r["segment"], r["characters"]) for r in rows] == [
        ("workers_ai", 0, len(FIRST)),
        ("deepgram", 1, len(SECOND)),
    ]


async def test_clear_drops_pending_audio(speak_gateway: GatewayServer) -> None:
    events: list[dict[str, Any]] = []
    url = f"{speak_gateway.ws_url}/voice/speak-stream?provider=deepgram"
    async with connect(url, additional_headers={"Authorization": f"Bearer {speak_gateway.key}"}) as ws:
        await ws.send(json.dumps({"type": "Speak", "text": "never flushed"}))
        await ws.send(json.dumps({"type": "Clear"}))
        cleared = json.loads(await asyncio.wait_for(ws.recv(), 5))
        await speak(ws, SECOND)
        audio = await until_flushed(ws, events)
        await finish(ws, events)
    assert cleared["type"] == "Cleared"
    assert audio == speak_audio(SECOND, 24000)
    assert events[-1]["characters"] == len(SECOND)

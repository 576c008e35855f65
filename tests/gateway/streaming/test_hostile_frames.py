"""Hostile text frames on the WebSocket routes: nested JSON (several shapes) is a bad frame answered with an error
event — the session lives on, relays audio and ends cleanly (close 1000, session_end), never dies without a close."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.asyncio.client import connect

from tests.fakes.deepgram_ws import utterance
from tests.fakes.harness import FakeServer

from .conftest import GatewayServer, deepgram_ws_env, running_gateway
from .test_realtime import RATE, collect, send_audio

FRAMES = [
    "[" * 1000,
    '{"type":' * 1000,
    "[" * 1000 + "]" * 1000,
    '{"type": "Speak", "text": "x", "pad": ' + "[" * 300 + "]" * 300 + "}",
    "[{" * 20_000,
]


@pytest.fixture
async def gateway(deepgram_ws: FakeServer) -> AsyncIterator[GatewayServer]:
    async for server in running_gateway(deepgram_ws_env(deepgram_ws)):
        yield server


async def test_realtime_survives_nested_frames(gateway: GatewayServer) -> None:
    url = f"{gateway.ws_url}/voice/realtime?model=flux&sample_rate={RATE}"
    async with connect(url, additional_headers={"Authorization": f"Bearer {gateway.key}"}) as ws:
        reader = asyncio.ensure_future(collect(ws))
        for frame in FRAMES:
            await ws.send(frame)
        await send_audio(ws, utterance([0, 1, 2]))
        await ws.send(json.dumps({"type": "CloseStream"}))
        events: list[dict[str, Any]] = await asyncio.wait_for(reader, 10)
    errors = [e for e in events if e["type"] == "error"]
    assert len(errors) == len(FRAMES) and all(e["error"]["type"] == "invalid_request" for e in errors), errors
    assert events[-1]["type"] == "session_end" and events[-1]["duration"] > 0
    assert ws.close_code == 1000


async def test_speak_stream_survives_nested_frames(gateway: GatewayServer) -> None:
    url = f"{gateway.ws_url}/voice/speak-stream?provider=deepgram&voice=thalia"
    events: list[dict[str, Any]] = []
    async with connect(url, additional_headers={"Authorization": f"Bearer {gateway.key}"}) as ws:
        for frame in FRAMES:
            await ws.send(frame)
        await ws.send(json.dumps({"type": "Speak", "text": "Hello there."}))
        await ws.send(json.dumps({"type": "Flush"}))
        await ws.send(json.dumps({"type": "Close"}))
        async for message in ws:
            if isinstance(message, str):
                events.append(json.loads(message))
    errors = [e for e in events if e["type"] == "error"]
    assert len(errors) == len(FRAMES), events
    assert any(e["type"] == "Flushed" for e in events)
    assert events[-1]["type"] == "session_end" and events[-1]["characters"] == len("Hello there.")
    assert ws.close_code == 1000


# -- generated frames ---------------------------------------------------------------------------------------------------


FRAME_SESSIONS = int(os.environ.get("FUZZ_FRAME_SESSIONS", "6"))

text_frames = st.one_of(
    st.text(max_size=200),
    st.integers(1, 3000).map(lambda n: "[" * n),
    st.integers(1, 3000).map(lambda n: '{"type":' * n + '"CloseStream"' + "}" * n),
    st.sampled_from(
        [
            '{"type": "KeepAlive"}',
            '{"type": null}',
            '{"type": ["CloseStream"]}',
            "null",
            "[]",
            '"x"',
            '{"type": "Speak"}',
            '{"type": "Speak", "text": 5}',
            '{"type": "Flush", "extra": {}}',
            "\x00",
            '{"type": "\\ud800"}',
            "{" * 10,
        ]
    ),
    st.binary(max_size=64).map(lambda b: b.decode("latin-1")),
)
frames = st.lists(st.one_of(text_frames, st.binary(max_size=3200)), min_size=1, max_size=12)


def drawn_sessions() -> list[list[str | bytes]]:
    out: list[list[str | bytes]] = []

    @settings(max_examples=FRAME_SESSIONS, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(frames)
    def collect(session: list[str | bytes]) -> None:
        out.append(session)

    collect()
    return out


async def test_generated_frames_never_kill_a_realtime_session(gateway: GatewayServer) -> None:
    url = f"{gateway.ws_url}/voice/realtime?model=flux&sample_rate={RATE}"
    for session in drawn_sessions():
        async with connect(url, additional_headers={"Authorization": f"Bearer {gateway.key}"}) as ws:
            reader = asyncio.ensure_future(collect(ws))
            for frame in session:
                await ws.send(frame)
            await ws.send(json.dumps({"type": "CloseStream"}))
            events: list[dict[str, Any]] = await asyncio.wait_for(reader, 15)
        assert ws.close_code == 1000, (ws.close_code, [f[:40] for f in session], events[-3:])
        assert events and events[-1]["type"] == "session_end", events[-3:]


async def test_generated_frames_never_kill_a_speak_session(gateway: GatewayServer) -> None:
    url = f"{gateway.ws_url}/voice/speak-stream?provider=deepgram&voice=thalia"
    for session in drawn_sessions():
        events: list[dict[str, Any]] = []
        async with connect(url, additional_headers={"Authorization": f"Bearer {gateway.key}"}) as ws:
            for frame in session:
                await ws.send(frame)
            await ws.send(json.dumps({"type": "Close"}))
            async with asyncio.timeout(15):
                async for message in ws:
                    if isinstance(message, str):
                        events.append(json.loads(message))
        assert ws.close_code == 1000, (ws.close_code, [f[:40] for f in session], events[-3:])
        assert events and events[-1]["type"] == "session_end", events[-3:]

"""A WebSocket session's close is the end of its response: its usage row is committed before the close frame."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
from websockets.asyncio.client import connect

from tests.fakes.deepgram_ws import utterance
from tests.fakes.harness import FakeServer

from .conftest import GatewayServer, deepgram_ws_env, running_gateway
from .test_realtime import RATE, collect, send_audio


@pytest.fixture
async def gateway(deepgram_ws: FakeServer) -> AsyncIterator[GatewayServer]:
    async for server in running_gateway(deepgram_ws_env(deepgram_ws)):
        yield server


async def test_a_session_closes_only_after_its_usage_row_is_committed(gateway: GatewayServer) -> None:
    """The WebSocket close is the end of a session's response: its usage row is in the database by then, with no
    after-response flush (the server's recorder is not flushed before looking)."""
    url = f"{gateway.ws_url}/voice/realtime?model=flux&sample_rate={RATE}"
    async with connect(url, additional_headers={"Authorization": f"Bearer {gateway.key}"}) as ws:
        reader = asyncio.ensure_future(collect(ws))
        await send_audio(ws, utterance([0, 1]))
        await ws.send(json.dumps({"type": "CloseStream"}))
        events = await asyncio.wait_for(reader, 10)
    assert ws.close_code == 1000 and events[-1]["type"] == "session_end"
    db = gateway.app.state.gateway.runtime.db
    rows = await gateway.in_server(db.all("SELECT provider, audio_seconds FROM usage_records"))
    assert [r["provider"] for r in rows] == ["deepgram"] and rows[0]["audio_seconds"] > 0

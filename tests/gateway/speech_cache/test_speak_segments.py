"""/voice/speak-stream caches per flushed segment: a segment spoken before is answered from the cache without
reaching the vendor, in order, and billed as a cache hit; a segment behind audio still in flight goes to the vendor."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from tests.conftest import ADMIN_TOKEN
from tests.fakes.deepgram_ws import speak_audio
from tests.fakes.harness import FakeServer
from tests.gateway.streaming.conftest import GatewayServer, deepgram_ws_env, running_gateway
from tests.gateway.streaming.test_speak_stream import finish, speak, until_flushed

GREETING, QUESTION, NEW = "Welcome to Acme support.", "How can I help you today?", "Let me check that for you."


@pytest.fixture
async def speak_gateway(deepgram_ws: FakeServer) -> AsyncIterator[GatewayServer]:
    async for server in running_gateway({**deepgram_ws_env(deepgram_ws), "SPEAK_STALL_SECONDS": "1"}):
        async with httpx.AsyncClient(base_url=server.url) as client:
            r = await client.put(f"/admin/workspaces/{server.workspace_id}/cache", json={"enabled": True},
                                 headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})  # fmt: skip
            assert r.status_code == 200, r.text
        yield server


async def session(server: GatewayServer, texts: list[str], events: list[dict[str, Any]]) -> list[bytes]:
    url = f"{server.ws_url}/voice/speak-stream?provider=deepgram&voice=thalia"
    audio = []
    async with connect(url, additional_headers={"Authorization": f"Bearer {server.key}"}) as ws:
        for text in texts:
            await speak(ws, text)
            audio.append(await until_flushed(ws, events))
        await finish(ws, events)

    async def settle() -> None:
        await server.app.state.gateway.runtime.tasks.drain()  # cache writes happen after each Flushed

    await server.in_server(settle())
    return audio


async def test_a_flushed_segment_spoken_before_is_served_from_the_cache(
    speak_gateway: GatewayServer, deepgram_ws: FakeServer
) -> None:
    first_events: list[dict[str, Any]] = []
    await session(speak_gateway, [GREETING, QUESTION], first_events)
    assert not any(e.get("cached") for e in first_events)

    events: list[dict[str, Any]] = []
    audio = await session(speak_gateway, [GREETING, NEW, QUESTION], events)
    assert audio == [speak_audio(t, 24000) for t in (GREETING, NEW, QUESTION)]  # same bytes, in order
    flushed = [e for e in events if e["type"] == "Flushed"]
    assert [(e["sequence_id"], e["provider"], e.get("cached", False)) for e in flushed] == [
        (0, "deepgram", True),
        (1, "deepgram", False),
        (2, "deepgram", True),
    ]
    assert deepgram_ws.state.options["sessions"][-1]["texts"] == [NEW]  # only the new segment reached the vendor

    rows = await speak_gateway.usage_rows()
    cached = [r for r in rows if r["provider"] == "cache"]
    assert sorted(r["characters"] for r in cached) == sorted([len(GREETING), len(QUESTION)])
    assert all(r["provider_cost_micros"] == 0 and r["saved_cost_micros"] > 0 for r in cached)
    vendor = [r for r in rows if r["provider"] == "deepgram"]
    assert sum(r["characters"] for r in vendor) == len(GREETING) + len(QUESTION) + len(NEW)


async def test_no_store_from_the_client_keeps_nothing(speak_gateway: GatewayServer, deepgram_ws: FakeServer) -> None:
    url = f"{speak_gateway.ws_url}/voice/speak-stream?provider=deepgram"
    headers = {"Authorization": f"Bearer {speak_gateway.key}", "Cache-Control": "no-store"}
    events: list[dict[str, Any]] = []
    async with connect(url, additional_headers=headers) as ws:
        await speak(ws, GREETING)
        await until_flushed(ws, events)
        await finish(ws, events)
    await session(speak_gateway, [GREETING], events)
    assert not any(e.get("cached") for e in events)
    assert [s["texts"] for s in deepgram_ws.state.options["sessions"]] == [[GREETING], [GREETING]]

"""/voice/stream and the cache: a hit is streamed at once; a miss is relayed live and kept only when it ended whole,
spoken by one vendor — a stream that failed over mid-way, or that the client cut, is never stored."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.conftest import GatewayHarness, make_gateway, vendor_env
from tests.fakes.harness import FakeServer, Fault
from tests.gateway.streaming.conftest import GatewayServer, running_gateway

from .test_stage import enable

SENTENCES = ["The first sentence is here.", "Then a second one follows!", "And the third ends it."]
TEXT = " ".join(SENTENCES)
NOTHING = Fault("slow")  # a no-op fault: aims the next queued fault at a later request


@pytest.fixture
async def sgw(openai_fake: FakeServer, deepgram_fake: FakeServer) -> AsyncIterator[GatewayHarness]:
    env = {**vendor_env(openai_fake, deepgram_fake), "STREAM_STALL_SECONDS": "0.5"}
    async for harness in make_gateway(env):
        yield harness


async def stream(gw: GatewayHarness, fmt: str = "pcm") -> httpx.Response:
    r = await gw.client.post("/voice/stream", json={"text": TEXT, "voiceConfig": {"format": fmt}}, headers=gw.auth())
    assert r.status_code == 200, r.text
    await gw.settle()
    return r


def vendor_calls(*fakes: FakeServer) -> int:
    return sum(1 for fake in fakes for r in fake.state.requests if r.method == "POST")


async def test_a_whole_stream_is_stored_and_the_next_one_is_a_hit_streamed_at_once(
    sgw: GatewayHarness, openai_fake: FakeServer, deepgram_fake: FakeServer
) -> None:
    await enable(sgw)
    miss = await stream(sgw)
    assert miss.headers["x-cache"] == "MISS" and vendor_calls(openai_fake) == len(SENTENCES)
    hit = await stream(sgw)
    assert hit.headers["x-cache"] == "HIT" and hit.content == miss.content
    assert (hit.headers["x-provider"], hit.headers["x-sample-rate"]) == ("openai", "24000")
    assert hit.headers["content-type"] == "audio/pcm"
    assert vendor_calls(openai_fake, deepgram_fake) == len(SENTENCES)  # no vendor call for the hit
    rows = await sgw.db.all("SELECT provider, characters, provider_cost_micros FROM usage_records ORDER BY created_at")
    assert rows[-1] == {"provider": "cache", "characters": sum(map(len, SENTENCES)), "provider_cost_micros": 0}


async def test_streamed_mp3_shares_entries_with_synthesize(sgw: GatewayHarness, openai_fake: FakeServer) -> None:
    await enable(sgw)
    miss = await stream(sgw, "mp3")
    r = await sgw.client.post("/voice/synthesize", json={"text": TEXT}, headers=sgw.auth())
    assert r.headers["x-cache"] == "HIT" and r.content == miss.content


async def test_a_stream_that_failed_over_mid_way_is_not_stored(
    sgw: GatewayHarness, openai_fake: FakeServer, deepgram_fake: FakeServer
) -> None:
    await enable(sgw)
    openai_fake.state.fail(NOTHING, Fault("cut", after_chunks=2))  # the second sentence is cut mid-body
    first = await stream(sgw)
    assert first.headers["x-cache"] == "MISS" and vendor_calls(deepgram_fake) > 0  # finished on Deepgram
    again = await stream(sgw)
    assert again.headers["x-cache"] == "MISS"  # nothing was kept from the failed-over stream
    stored = await stream(sgw)
    assert stored.headers["x-cache"] == "HIT" and stored.content == again.content  # the clean one was


async def stored(server: GatewayServer) -> int | None:
    """Entries in the workspace's scope, once the writes after the responses are done (on the server's loop)."""
    gateway = server.app.state.gateway
    await gateway.runtime.tasks.drain()
    return (await gateway.speech_cache.stats(server.workspace_id)).entries


async def test_a_stream_the_client_cut_is_not_stored(openai_fake: FakeServer) -> None:
    openai_fake.state.options["chunk_delay"] = 0.05  # slow enough to hang up in the middle
    async for server in running_gateway(vendor_env(openai_fake)):
        admin = {"Authorization": "Bearer test-admin-token"}
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
            r = await client.put(f"/admin/workspaces/{server.workspace_id}/cache", json={"enabled": True},
                                 headers=admin)  # fmt: skip
            assert r.status_code == 200
            body = {"text": TEXT, "voiceConfig": {"format": "pcm"}}
            auth = {"Authorization": f"Bearer {server.key}"}
            async with client.stream("POST", "/voice/stream", json=body, headers=auth) as response:
                assert response.headers["x-cache"] == "MISS"
                async for _ in response.aiter_raw():
                    break  # hang up after the first chunk
            await asyncio.sleep(0.5)  # the relay notices the disconnect and ends

            assert await server.in_server(stored(server)) == 0
            openai_fake.state.options["chunk_delay"] = 0.0
            r = await client.post("/voice/stream", json=body, headers=auth)
            assert r.headers["x-cache"] == "MISS"  # and so the next request speaks again
            assert await server.in_server(stored(server)) == 1  # this one ran to its end

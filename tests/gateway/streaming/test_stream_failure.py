"""/voice/stream when every vendor fails after audio was sent: the chunked body is aborted (no final chunk), so an
HTTP client over a real socket sees an error instead of a short 200; the failure is counted in the metrics and
only the sentences that were completed are billed. Several ways of failing: the next vendor refusing, the last
vendor cut mid-sentence, a stall with nobody left."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.conftest import ADMIN_TOKEN, vendor_env
from tests.fakes.harness import FakeServer, Fault

from .conftest import GatewayServer, running_gateway
from .test_voice_stream import NOTHING, SENTENCES, TEXT


@pytest.fixture
async def server(openai_fake: FakeServer, deepgram_fake: FakeServer) -> AsyncIterator[GatewayServer]:
    env = {**vendor_env(openai_fake, deepgram_fake), "STREAM_STALL_SECONDS": "0.5"}
    async for srv in running_gateway(env):
        yield srv


def two_then_refused(openai: FakeServer, deepgram: FakeServer) -> None:
    openai.state.fail(NOTHING, NOTHING, Fault("cut", after_chunks=0))
    deepgram.state.always(Fault("status", status=503))


def last_vendor_cut_mid_sentence(openai: FakeServer, deepgram: FakeServer) -> None:
    openai.state.fail(NOTHING, NOTHING, Fault("cut", after_chunks=0))
    deepgram.state.fail(Fault("cut", after_chunks=1))


def stalled_with_nobody_left(openai: FakeServer, deepgram: FakeServer) -> None:
    openai.state.options["chunk_delay"] = 3.0  # the first chunk, then silence past STREAM_STALL_SECONDS
    deepgram.state.always(Fault("status", status=503))


CASES = {
    # case → characters billed to openai (the sentences it completed)
    "two_then_refused": (two_then_refused, len(SENTENCES[0]) + len(SENTENCES[1])),
    "last_vendor_cut_mid_sentence": (last_vendor_cut_mid_sentence, len(SENTENCES[0]) + len(SENTENCES[1])),
    "stalled_with_nobody_left": (stalled_with_nobody_left, 0),
}


async def metric(server: GatewayServer, name: str) -> float:
    async with httpx.AsyncClient(base_url=server.url) as client:
        text = (await client.get("/metrics", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name + "{"))


@pytest.mark.parametrize("case", sorted(CASES))
async def test_a_stream_every_vendor_failed_is_an_error_to_the_client(
    server: GatewayServer, openai_fake: FakeServer, deepgram_fake: FakeServer, case: str
) -> None:
    arrange, billed = CASES[case]
    arrange(openai_fake, deepgram_fake)
    before = await metric(server, "vgw_streams_failed_total")
    received = b""
    body = {"text": TEXT, "voiceConfig": {"format": "pcm"}}
    async with (
        httpx.AsyncClient(base_url=server.url, timeout=20) as client,
        client.stream(
            "POST", "/voice/stream", json=body, headers={"Authorization": f"Bearer {server.key}"}
        ) as response,
    ):
        assert response.status_code == 200  # the audio had started: the status was already sent
        with pytest.raises(httpx.RemoteProtocolError):  # the body ends without its final chunk
            async for chunk in response.aiter_bytes():
                received += chunk
    assert received, "some audio was delivered before the failure"
    assert await metric(server, "vgw_streams_failed_total") == before + 1
    rows = await server.usage_rows()
    assert sum(r["characters"] for r in rows) == billed
    assert {r["provider"] for r in rows} <= {"openai"}


async def test_a_stream_that_recovers_still_ends_normally(
    server: GatewayServer, openai_fake: FakeServer, deepgram_fake: FakeServer
) -> None:
    openai_fake.state.fail(NOTHING, NOTHING, Fault("cut", after_chunks=0))  # deepgram finishes it
    before = await metric(server, "vgw_streams_failed_total")
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
        r = await client.post("/voice/stream", json={"text": TEXT, "voiceConfig": {"format": "pcm"}},
                              headers={"Authorization": f"Bearer {server.key}"})  # fmt: skip
    assert r.status_code == 200 and r.content
    assert await metric(server, "vgw_streams_failed_total") == before
    rows = await server.usage_rows()
    assert sum(r["characters"] for r in rows) == sum(map(len, SENTENCES))

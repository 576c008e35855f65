"""The fetch-backed httpx transport, against real loopback servers reached through the stand-in ``fetch``."""

from __future__ import annotations

import asyncio
import gzip
import json
import threading
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from runtimes.workers.http_transport import WorkersFetchTransport
from tests.fakes import openai as openai_fake
from tests.fakes.harness import FakeServer, free_port

from . import standins

release_second_chunk = threading.Event()


async def echo(request: Request) -> Response:
    return JSONResponse(
        {
            "method": request.method,
            "query": request.url.query,
            "headers": [[k.decode(), v.decode()] for k, v in request.scope["headers"]],
            "body": (await request.body()).hex(),
        }
    )


async def gated_stream(request: Request) -> Response:
    async def body() -> AsyncIterator[bytes]:
        yield b"first-"
        for _ in range(300):  # until the test has seen the first chunk (at most 3 s)
            if release_second_chunk.is_set():
                break
            await asyncio.sleep(0.01)
        yield b"second-"
        yield b"third"

    return StreamingResponse(body(), media_type="audio/mpeg")


async def gzipped(request: Request) -> Response:
    return Response(gzip.compress(b"plain text " * 50), headers={"content-encoding": "gzip"}, media_type="text/plain")


async def hang(request: Request) -> Response:
    await asyncio.sleep(10)
    return Response(b"too late")


async def stall(request: Request) -> Response:
    async def body() -> AsyncIterator[bytes]:
        yield b"partial"
        await asyncio.sleep(10)
        yield b"never"

    return StreamingResponse(body())


APP = Starlette(
    routes=[
        Route("/echo", echo, methods=["GET", "POST", "PUT", "DELETE"]),
        Route("/stream", gated_stream),
        Route("/gzip", gzipped),
        Route("/hang", hang),
        Route("/stall", stall),
    ]
)


@pytest.fixture(scope="module")
def server() -> Iterator[FakeServer]:
    with FakeServer(APP) as running:
        yield running


@pytest.fixture
async def client(sdk: standins.StandIns) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as real_network:  # what "the internet" is for the stand-in fetch
        sdk.network.handler = standins.forward_to(real_network)
        async with httpx.AsyncClient(transport=WorkersFetchTransport(), trust_env=False) as workers_client:
            yield workers_client


async def test_round_trip_carries_method_headers_and_body(client, server, sdk):
    payload = bytes(range(256))
    response = await client.post(
        f"{server.url}/echo?voice=alloy",
        content=payload,
        headers=[("X-Trace", "one"), ("X-Trace", "two"), ("Content-Type", "application/octet-stream")],
    )
    assert response.status_code == 200
    seen = response.json()
    assert seen["method"] == "POST" and seen["query"] == "voice=alloy"
    assert bytes.fromhex(seen["body"]) == payload
    assert [v for k, v in seen["headers"] if k == "x-trace"] in (["one", "two"], ["one, two"])

    sent = sdk.network.sent[-1]
    assert sent.method == "POST" and sent.body == payload
    assert sent.options["redirect"] == "manual"  # httpx keeps deciding about redirects
    assert isinstance(sent.options["body"], standins.Uint8Array)  # converted before crossing into JS
    assert not {"host", "content-length"} & {k for k, _ in sent.headers}  # fetch sets those itself


async def test_get_sends_no_body(client, server, sdk):
    response = await client.get(f"{server.url}/echo")
    assert response.json()["method"] == "GET"
    assert "body" not in sdk.network.sent[-1].options


async def test_body_is_relayed_as_it_arrives(client, server):
    release_second_chunk.clear()
    async with client.stream("GET", f"{server.url}/stream") as response:
        assert response.headers["content-type"] == "audio/mpeg"
        chunks = response.aiter_bytes()
        first = await asyncio.wait_for(anext(chunks), 2)  # arrives while the server still holds the rest
        assert first == b"first-"
        release_second_chunk.set()
        rest = b"".join([chunk async for chunk in chunks])
    assert first + rest == b"first-second-third"


async def test_body_decoded_by_fetch_is_not_decoded_again(client, server):
    response = await client.get(f"{server.url}/gzip")
    assert response.text == "plain text " * 50
    assert "content-encoding" not in response.headers


async def test_fetch_failure_is_connect_error_without_the_query(client):
    with pytest.raises(httpx.ConnectError) as caught:
        await client.get(f"http://127.0.0.1:{free_port()}/v1/speech?key=SECRET-KEY")
    assert "SECRET-KEY" not in str(caught.value)
    assert "Network connection lost" in str(caught.value)


async def test_no_response_headers_in_time_is_read_timeout_and_aborts(client, server, sdk):
    with pytest.raises(httpx.ReadTimeout):
        await client.get(f"{server.url}/hang", timeout=0.2)
    assert sdk.network.sent[-1].options["signal"].aborted


async def test_stalled_body_is_read_timeout_and_aborts(client, server, sdk):
    async with client.stream("GET", f"{server.url}/stall", timeout=0.3) as response:
        chunks = response.aiter_bytes()
        assert await anext(chunks) == b"partial"
        with pytest.raises(httpx.ReadTimeout):
            await anext(chunks)
    assert sdk.network.sent[-1].options["signal"].aborted


async def test_closing_a_stream_early_aborts_the_fetch(client, server, sdk):
    release_second_chunk.clear()
    async with client.stream("GET", f"{server.url}/stream") as response:
        assert await anext(response.aiter_bytes()) == b"first-"
    assert sdk.network.sent[-1].options["signal"].aborted
    release_second_chunk.set()


async def test_finished_stream_is_not_aborted(client, server, sdk):
    release_second_chunk.set()
    async with client.stream("GET", f"{server.url}/stream") as response:
        assert await response.aread() == b"first-second-third"
    assert not sdk.network.sent[-1].options["signal"].aborted


async def test_vendor_audio_stream_through_the_transport(client):
    """OpenAI's fake speech endpoint streams audio in pieces; the Worker transport hands back the same bytes."""
    state = openai_fake.FakeState()
    state.options["chunks"] = 4
    with FakeServer(openai_fake.create_app(state), state) as vendor:
        request = {"model": min(openai_fake.SPEECH_MODELS), "input": "Hello from the edge.", "voice": "alloy"}
        headers = {"Authorization": f"Bearer {openai_fake.API_KEY}"}
        pieces = []
        async with client.stream("POST", f"{vendor.url}/v1/audio/speech", json=request, headers=headers) as response:
            assert response.status_code == 200
            async for piece in response.aiter_bytes():
                pieces.append(piece)
        async with httpx.AsyncClient() as direct:
            expected = (await direct.post(f"{vendor.url}/v1/audio/speech", json=request, headers=headers)).content
    assert len(pieces) > 1
    assert b"".join(pieces) == expected
    assert json.loads(state.requests[0].body) == request


async def test_a_slow_consumer_does_not_time_out_a_healthy_body(client, server, sdk):
    release_second_chunk.set()  # the vendor sends everything at once; the reader is what is slow
    async with client.stream("GET", f"{server.url}/stream", timeout=0.2) as response:
        chunks = response.aiter_bytes()
        first = await anext(chunks)
        await asyncio.sleep(0.5)  # longer than the read timeout, spent by the consumer, not waiting on the vendor
        rest = b"".join([chunk async for chunk in chunks])
    assert first + rest == b"first-second-third"
    assert not sdk.network.sent[-1].options["signal"].aborted

"""The local vendor client: failures keep their true class (refused ≠ timeout ≠ cut), streams still stream."""

from __future__ import annotations

import httpx
import pytest

from runtimes.local.http_client import vendor_http_client
from tests.fakes.harness import FakeServer, Fault, free_port


@pytest.fixture(scope="module")
def openai_server():
    from tests.fakes.openai import create_app

    server = FakeServer(None)  # type: ignore[arg-type]
    server.app = create_app(server.state)
    with server:
        yield server


SPEECH = {"model": "tts-1", "input": "Hello there, a few words of audio.", "voice": "alloy"}
AUTH = {"Authorization": "Bearer test-openai-key"}


async def test_refused_connection_is_a_connect_error() -> None:
    async with vendor_http_client() as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(f"http://127.0.0.1:{free_port()}/")


async def test_hang_is_a_timeout(openai_server: FakeServer) -> None:
    openai_server.state.fail(Fault("hang"))
    async with vendor_http_client() as client:
        with pytest.raises(httpx.TimeoutException):
            await client.post(f"{openai_server.url}/v1/audio/speech", json=SPEECH, headers=AUTH, timeout=0.3)
    openai_server.state.reset()


async def test_body_cut_midway_is_a_transport_error_not_a_timeout(openai_server: FakeServer) -> None:
    openai_server.state.fail(Fault("cut", after_chunks=1))
    async with vendor_http_client() as client:
        async with client.stream("POST", f"{openai_server.url}/v1/audio/speech", json=SPEECH, headers=AUTH) as r:
            with pytest.raises(httpx.TransportError) as caught:
                async for _ in r.aiter_bytes():
                    pass
    assert not isinstance(caught.value, httpx.TimeoutException)
    openai_server.state.reset()


async def test_streams_arrive_in_chunks(openai_server: FakeServer) -> None:
    openai_server.state.options["chunk_delay"] = 0.02  # pieces leave the vendor apart: each arrives as it comes
    async with vendor_http_client() as client:
        async with client.stream("POST", f"{openai_server.url}/v1/audio/speech", json=SPEECH, headers=AUTH) as r:
            assert r.status_code == 200
            chunks = [c async for c in r.aiter_bytes()]
    openai_server.state.reset()
    assert len(chunks) > 1 and b"".join(chunks)[:2] == b"\xff\xfb"

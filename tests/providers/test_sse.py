"""The shared SSE parser: pure decoder rules, then real streamed bodies (split lines, split UTF-8, cuts) on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route

from gateway.errors import ErrorClass, ProviderError
from providers import sse
from providers.http import open_stream
from providers.sse import ServerSentEvent, SSEDecoder, iter_sse
from tests.fakes.harness import CutConnection, FakeServer


def decode(*pieces: str) -> list[tuple[str, str]]:
    decoder = SSEDecoder()
    events = [event for piece in pieces for event in decoder.feed(piece)]
    return events + decoder.close()


# -- pure decoder --------------------------------------------------------------------------------------------------
def test_named_and_default_events() -> None:
    assert decode("event: ping\ndata: {}\n\ndata: hello\n\n") == [("ping", "{}"), ("message", "hello")]


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_every_line_ending(newline: str) -> None:
    text = f"event: a{newline}data: 1{newline}{newline}data: 2{newline}{newline}"
    assert decode(text) == [("a", "1"), ("message", "2")]


def test_multi_line_data_comments_and_unknown_fields() -> None:
    text = ": keep-alive\nid: 7\nretry: 100\nfoo: bar\ndata: line one\ndata:line two\ndata\n\n"
    assert decode(text) == [("message", "line one\nline two\n")]


def test_only_one_space_after_colon_is_stripped() -> None:
    assert decode("data:  two spaces\n\n") == [("message", " two spaces")]


def test_event_without_data_is_not_dispatched_and_name_does_not_leak() -> None:
    assert decode("event: lonely\n\ndata: x\n\n") == [("message", "x")]


def test_crlf_split_across_chunks_is_one_line_break() -> None:
    # If "\r" + "\n" were two breaks, the lone "\n" would be a blank line and dispatch early.
    assert decode("data: a\r", "\ndata: b\r", "\n\r", "\n") == [("message", "a\nb")]


def test_lines_split_anywhere() -> None:
    text = 'event: content_block_delta\r\ndata: {"text": "hi"}\r\n\r\n'
    assert decode(*text) == [("content_block_delta", '{"text": "hi"}')]


def test_leading_bom_is_ignored() -> None:
    assert decode("\ufeffevent: x\ndata: 1\n\n") == [("x", "1")]


def test_unterminated_final_event_is_discarded() -> None:
    assert decode("data: complete\n\ndata: half an ev") == [("message", "complete")]
    assert decode("data: complete\n\ndata: whole line but no blank\n") == [("message", "complete")]


def test_events_are_tuples_with_names() -> None:
    event = decode("event: e\ndata: d\n\n")[0]
    assert isinstance(event, ServerSentEvent) and (event.event, event.data) == event == ("e", "d")


def test_oversized_event_is_refused() -> None:
    for text in ("data: 0123456789abcdef\n\n", "data: 0123456789abcdef"):  # whole, or still arriving
        with pytest.raises(sse.EventTooLarge):
            SSEDecoder(max_event_chars=10).feed(text)
    # The limit is per event: many small events are fine.
    assert SSEDecoder(max_event_chars=10).feed("data: 01234\n\ndata: 56789\n\n") == [
        ("message", "01234"),
        ("message", "56789"),
    ]


# -- real streamed bodies ------------------------------------------------------------------------------------------
BODIES: dict[str, list[bytes]] = {
    # "é" is two UTF-8 bytes, split between chunks; "\r\n" is split too.
    "split": [b"event: greet\r\ndata: caf\xc3", b"\xa9\r", b"\n\r\n: comment\r\ndata: two\r\n\r\n"],
    "cut": [b"event: a\ndata: 1\n\n", b"event: b\ndata: par"],
    "stall": [b"data: first\n\n"],
    "huge": [b"data: " + b"x" * 200 + b"\n\n"],
}


async def serve(request: Request) -> StreamingResponse:
    name = request.path_params["name"]

    async def body() -> AsyncIterator[bytes]:
        for chunk in BODIES[name]:
            yield chunk
            await asyncio.sleep(0.01)  # separate TCP writes, so chunk boundaries are real
        if name == "cut":
            raise CutConnection()
        if name == "stall":
            await asyncio.sleep(5)

    return StreamingResponse(body(), media_type="text/event-stream")


@pytest.fixture(scope="module")
def server() -> Iterator[FakeServer]:
    with FakeServer(Starlette(routes=[Route("/{name}", serve)])) as running:
        yield running


async def collect(server: FakeServer, name: str, timeout: float = 2) -> list[tuple[str, str]]:
    events: list[tuple[str, str]] = []
    async with (
        httpx.AsyncClient() as http,
        open_stream(http, "test", "GET", f"{server.url}/{name}", timeout=timeout) as r,
    ):
        async for event in iter_sse("test", r):
            events.append(event)
    return events


async def test_chunks_split_inside_characters_and_line_endings(server: FakeServer) -> None:
    assert await collect(server, "split") == [("greet", "café"), ("message", "two")]


async def test_cut_stream_raises_connection_after_complete_events(server: FakeServer) -> None:
    seen: list[tuple[str, str]] = []
    with pytest.raises(ProviderError) as caught:
        async with (
            httpx.AsyncClient(verify=False) as http,
            open_stream(http, "test", "GET", f"{server.url}/cut", timeout=2) as r,
        ):
            async for event in iter_sse("test", r):
                seen.append(event)
    assert caught.value.error_class is ErrorClass.CONNECTION
    assert seen == [("a", "1")]  # the half event is never handed out


async def test_stalled_stream_raises_timeout(server: FakeServer) -> None:
    with pytest.raises(ProviderError) as caught:
        await collect(server, "stall", timeout=0.3)
    assert caught.value.error_class is ErrorClass.TIMEOUT


async def test_oversized_stream_event_is_malformed(server: FakeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sse, "MAX_EVENT_CHARS", 100)
    with pytest.raises(ProviderError) as caught:
        await collect(server, "huge")
    assert caught.value.error_class is ErrorClass.MALFORMED

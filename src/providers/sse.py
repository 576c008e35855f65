"""Server-sent events: turn a streamed vendor response into ``(event, data)`` pairs.

Follows the WHATWG event-stream rules that vendors rely on: lines end in ``\\n``, ``\\r\\n`` or ``\\r`` (Gemini
sends ``\\r\\n``); a blank line dispatches the event; ``data:`` lines accumulate joined by ``\\n``; lines starting with
``:`` are comments (keep-alives); the event name defaults to ``"message"``; a trailing event without its blank line
is *discarded* (the stream was cut mid-event, so the caller must not act on half an event).

:class:`SSEDecoder` is the pure, incremental part (unit-tested without I/O); :func:`iter_sse` feeds it from an
``httpx`` streamed response through :func:`providers.http.iter_body`, so a cut or stalled body surfaces as
``ProviderError`` (CONNECTION / TIMEOUT); :func:`iter_sse_bytes` does the same for any async iterator of bytes.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import AsyncIterator
from typing import NamedTuple

import httpx

from gateway.errors import ErrorClass, ProviderError
from providers.http import iter_body

_LINE_BREAK = re.compile(r"\r\n|\r|\n")

# One event's data should never approach this; a stream that does is broken, not merely large.
MAX_EVENT_CHARS = 4_000_000


class EventTooLarge(ValueError):
    pass


class ServerSentEvent(NamedTuple):
    event: str
    data: str


class SSEDecoder:
    """Incremental event-stream parser: ``feed`` text as it arrives, get back the events it completed."""

    def __init__(self, max_event_chars: int | None = None) -> None:
        self._limit = max_event_chars or MAX_EVENT_CHARS
        self._buffer = ""
        self._event = ""
        self._data: list[str] = []
        self._size = 0
        self._started = False

    def feed(self, text: str) -> list[ServerSentEvent]:
        if not self._started and text:
            self._started = True
            text = text.removeprefix("\ufeff")  # a leading BOM is not part of the first field name
        self._buffer += text
        events: list[ServerSentEvent] = []
        start = 0
        for match in _LINE_BREAK.finditer(self._buffer):
            # A lone "\r" at the very end may be the first half of "\r\n": decide when more text arrives.
            if match.group() == "\r" and match.end() == len(self._buffer):
                break
            event = self._line(self._buffer[start : match.start()])
            if event is not None:
                events.append(event)
            start = match.end()
        self._buffer = self._buffer[start:]
        self._check_size(len(self._buffer))
        return events

    def close(self) -> list[ServerSentEvent]:
        """End of stream: a final ``\\r`` still ends a line, but an undispatched event is dropped (spec)."""
        events = []
        if self._buffer.endswith("\r"):
            event = self._line(self._buffer[:-1])
            if event is not None:
                events.append(event)
        self._buffer = ""
        self._event, self._data, self._size = "", [], 0
        return events

    def _line(self, line: str) -> ServerSentEvent | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
            self._size += len(value) + 1
            self._check_size(0)
        elif name == "event":
            self._event = value
        # "id" and "retry" matter only for browser reconnection, which adapters never do; unknown fields are ignored.
        return None

    def _check_size(self, partial_line: int) -> None:
        if self._size + partial_line > self._limit:
            raise EventTooLarge("server-sent event exceeds the size limit")

    def _dispatch(self) -> ServerSentEvent | None:
        event, data = self._event or "message", self._data
        self._event, self._data, self._size = "", [], 0
        if not data:  # spec: an event with no data lines is not dispatched
            return None
        return ServerSentEvent(event, "\n".join(data))


async def iter_sse(provider: str, response: httpx.Response) -> AsyncIterator[ServerSentEvent]:
    """Events from a streamed response, in order, decoded as UTF-8 even when a character spans two chunks."""
    async for event in iter_sse_bytes(provider, iter_body(provider, response)):
        yield event


async def iter_sse_bytes(provider: str, chunks: AsyncIterator[bytes]) -> AsyncIterator[ServerSentEvent]:
    """Events from raw body chunks split anywhere (e.g. a Workers binding's ``ReadableStream``), as :func:`iter_sse`."""
    decoder = SSEDecoder()
    utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
    try:
        async for chunk in chunks:
            for event in decoder.feed(utf8.decode(chunk)):
                yield event
        for event in decoder.feed(utf8.decode(b"", final=True)) + decoder.close():
            yield event
    except EventTooLarge as exc:
        raise ProviderError(provider, ErrorClass.MALFORMED, str(exc)) from None

"""uvicorn's HTTP protocol with the two bounds a server facing untrusted clients needs and uvicorn lacks.

- **Header timeout.** uvicorn times out idle keep-alive connections, but not a request whose headers trickle in:
  50 sockets sending a header byte every few seconds held 50 connections forever. Each request's headers must
  arrive within ``header_timeout`` seconds of the connection opening (or of the first byte of the next request on
  a kept-alive connection); otherwise the client gets ``408`` and the connection is closed.
- **Lingering close.** When the response ends before the request body was read (a 413 for an oversized upload,
  a 401 before the body mattered), closing at once discards unread bytes, and the kernel answers them with a reset:
  a client that writes the whole body before reading (``urllib``, ``requests``) sees "connection reset" instead of
  the 413. So the connection half-closes (FIN after the response), reads and discards up to ``linger_bytes`` for
  up to ``linger_seconds``, then closes — the same trade-off as Apache's and nginx's lingering close.

The local runtime only; on Workers, Cloudflare's edge terminates HTTP.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

STATUS_408 = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\nconnection: close\r\ncontent-length: %d\r\n\r\n"
)
BODY_408 = b'{"error": {"type": "request_timeout", "message": "the request headers did not arrive in time"}}'


class _CloseAfterLinger:
    """The transport a request/response cycle sees: its ``close`` becomes a lingering close when needed."""

    def __init__(self, transport: asyncio.Transport, protocol: BoundedHttpProtocol) -> None:
        self._transport = transport
        self._protocol = protocol

    def close(self) -> None:
        self._protocol.close_after_response()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class BoundedHttpProtocol(HttpToolsProtocol):
    header_timeout: float = 10.0
    linger_seconds: float = 5.0
    linger_bytes: int = 64 * 1024 * 1024

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._header_timer: asyncio.TimerHandle | None = None
        self._linger_timer: asyncio.TimerHandle | None = None
        self._lingering = False
        self._drained = 0
        self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        for timer in (self._header_timer, self._linger_timer):
            if timer is not None:
                timer.cancel()
        super().connection_lost(exc)

    # -- header timeout ---------------------------------------------------------------------------------------------
    def _arm_header_timer(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(self.header_timeout, self._headers_too_slow)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm_header_timer()  # the next request on a kept-alive connection: its own deadline

    def on_headers_complete(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None
        super().on_headers_complete()
        if self.cycle is not None and not isinstance(self.cycle.transport, _CloseAfterLinger):
            self.cycle.transport = _CloseAfterLinger(self.transport, self)  # type: ignore[assignment]

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self.transport.is_closing() or self._lingering:
            return
        if self.cycle is None or self.cycle.response_complete:  # nothing of ours is being written: say why
            self.transport.write(STATUS_408 % len(BODY_408) + BODY_408)
        self.transport.close()

    # -- lingering close ---------------------------------------------------------------------------------------------
    def _body_unread(self) -> bool:
        return self.cycle is not None and self.cycle.more_body

    def close_after_response(self) -> None:
        if self._body_unread() and not self.transport.is_closing():
            self._linger()
        else:
            self.transport.close()

    def on_response_complete(self) -> None:
        if self._body_unread() and not self.transport.is_closing() and not self._lingering:
            self._linger()  # a kept-alive connection with a body nobody read: drain a bounded amount, then close
            return
        super().on_response_complete()

    def _linger(self) -> None:
        self._lingering = True
        self.flow.resume_reading()
        if self.transport.can_write_eof():
            self.transport.write_eof()  # the response is complete: FIN after it, keep reading
        self._linger_timer = self.loop.call_later(self.linger_seconds, self.transport.close)

    def data_received(self, data: bytes) -> None:
        if self._lingering:
            self._drained += len(data)
            if self._drained > self.linger_bytes:
                self.transport.close()
            return
        super().data_received(data)

    def eof_received(self) -> None:
        if self._lingering:
            self.transport.close()

    def handle_websocket_upgrade(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None
        super().handle_websocket_upgrade()


def bounded_protocol(header_timeout: float, linger_seconds: float, linger_bytes: int) -> type[BoundedHttpProtocol]:
    """The protocol class for ``uvicorn.Config(http=...)`` with these bounds."""
    return type(
        "BoundedHttpProtocol",
        (BoundedHttpProtocol,),
        {"header_timeout": header_timeout, "linger_seconds": linger_seconds, "linger_bytes": linger_bytes},
    )

"""The HTTP client every vendor call goes through on the local runtime: httpx's API (the adapters' vocabulary on both
runtimes) over a lean HTTP/1.1 keep-alive transport.

Why the transport is written here rather than taken from a library — measured on bench/overhead's fast fake (32
concurrent requests, CPU per request in one process): httpx's own pool (httpcore) walks every pooled connection with
a readability syscall per request; httpx over aiohttp (``httpx-aiohttp``) cost 0.18 ms per call, httpx over a thin
aiohttp transport 0.12 ms, aiohttp alone 0.07 ms, an asyncio protocol feeding httptools' parser 0.01 ms. Vendor calls
are the gateway's hot path, so the parsing is httptools' (llhttp, the parser uvicorn uses) and what is written here
is only the pool and the framing: one request at a time per connection, bodies sent whole (they are in memory
already), responses streamed with flow control. No proxies, redirects or HTTP/2: vendor APIs need none of them.

:class:`providers.vendor_client.VendorClient` (both runtimes) skips httpx's own client layers on top.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections import deque
from collections.abc import AsyncIterator
from functools import lru_cache
from typing import Any

import httptools
import httpx

from providers.vendor_client import VendorClient

MAX_IDLE_PER_HOST = 64  # kept-alive connections waiting for the next call, per vendor host
KEEP_ALIVE_SECONDS = 15.0  # an idle connection older than this is closed rather than reused (vendors drop them)
READ_HIGH_WATER = 1024 * 1024  # bytes of response body buffered before reading from the socket pauses
READ_LOW_WATER = 256 * 1024


def vendor_http_client(ssl_context: ssl.SSLContext | None = None) -> httpx.AsyncClient:
    return VendorClient(KeepAliveTransport(ssl_context))


def warm_up() -> None:
    """Load the CA bundle (tens of milliseconds): in a thread just after the server is up, so no request pays."""
    _default_ssl_context()


@lru_cache(maxsize=1)
def _default_ssl_context() -> ssl.SSLContext:
    return httpx.create_ssl_context()  # certifi's CA bundle, as httpx verifies by default


class KeepAliveTransport(httpx.AsyncBaseTransport):
    """HTTP/1.1 over pooled keep-alive connections. Failures become the httpx exceptions the adapters' boundary
    (``providers.http``) reads: refused → ``ConnectError``, no answer in time → ``ConnectTimeout``/``ReadTimeout``,
    a vendor hanging up or sending garbage → ``RemoteProtocolError``."""

    def __init__(self, ssl_context: ssl.SSLContext | None = None) -> None:
        self._ssl_context = ssl_context
        self._idle: dict[tuple[str, str, int], list[_Connection]] = {}
        self._open: set[_Connection] = set()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        tls = url.scheme == "https"
        if not tls and url.scheme != "http":
            raise httpx.UnsupportedProtocol(f"unsupported URL scheme {url.scheme!r}")
        key = (url.scheme, url.host, url.port or (443 if tls else 80))
        timeouts = request.extensions.get("timeout") or {}
        read_timeout = timeouts.get("read")
        head = _request_head(request, await request.aread())
        for _ in range(2):
            connection, reused = await self._checkout(key, timeouts.get("connect"))
            connection.expect_body = request.method != "HEAD"
            try:
                connection.send(head)
                await connection.wait_for_head(read_timeout)
            except httpx.RemoteProtocolError:
                connection.close()
                if reused and not connection.received:  # a kept-alive connection the vendor had just closed
                    continue
                raise
            except BaseException:
                connection.close()
                raise
            return httpx.Response(status_code=connection.status, headers=connection.headers,
                                  stream=_Body(self, key, connection, read_timeout), request=request,
                                  extensions={"http_version": b"HTTP/1.1"})  # fmt: skip
        raise httpx.RemoteProtocolError("the vendor closed the connection")  # pragma: no cover - loop returns/raises

    async def _checkout(self, key: tuple[str, str, int], connect_timeout: float | None) -> tuple[_Connection, bool]:
        idle = self._idle.get(key)
        now = time.monotonic()
        while idle:
            connection = idle.pop()
            if connection.reusable(now):
                return connection, True
            connection.close()
        scheme, host, port = key
        context = (self._ssl_context or _default_ssl_context()) if scheme == "https" else None
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(connect_timeout):
                _, connection = await loop.create_connection(
                    _Connection, host, port, ssl=context, server_hostname=host if context else None
                )
        except TimeoutError:
            raise httpx.ConnectTimeout(f"timed out connecting to {host}:{port}") from None
        except (OSError, ssl.SSLError) as exc:
            raise httpx.ConnectError(f"cannot connect to {host}:{port}: {exc}") from None
        self._open.add(connection)
        connection.on_closed = self._open.discard
        return connection, False

    def checkin(self, key: tuple[str, str, int], connection: _Connection) -> None:
        idle = self._idle.setdefault(key, [])
        if connection.keep_alive and len(idle) < MAX_IDLE_PER_HOST:
            connection.idle_since = time.monotonic()
            connection.reset()
            idle.append(connection)
        else:
            connection.close()

    async def aclose(self) -> None:
        for connection in list(self._open):
            connection.close()
        self._idle.clear()


def _request_head(request: httpx.Request, body: bytes) -> bytes:
    """The request as bytes: request line, headers (a whole-body ``Content-Length``, never chunked), body."""
    lines = [request.method.encode(), b" ", request.url.raw_path, b" HTTP/1.1\r\n"]
    has_length = False
    for name, value in request.headers.raw:
        lowered = name.lower()
        if lowered == b"transfer-encoding":
            continue
        if lowered == b"content-length":
            has_length = True
            value = str(len(body)).encode()
        lines += (name, b": ", value, b"\r\n")
    if not has_length and (body or request.method in ("POST", "PUT", "PATCH")):
        lines += (b"Content-Length: ", str(len(body)).encode(), b"\r\n")
    lines += (b"\r\n", body)
    return b"".join(lines)


class _Connection(asyncio.Protocol):
    """One connection: one request at a time; httptools calls ``on_*`` as the response's bytes are parsed."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.closed = False
        self.idle_since = 0.0
        self.on_closed: Any = None
        self.paused = False
        self.reset()

    def reset(self) -> None:
        if self.paused and self.transport is not None:
            self.transport.resume_reading()  # a complete body left buffered: the next response must be read
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.head_done = False
        self.complete = False
        self.keep_alive = False
        self.received = False
        self.chunks: deque[bytes] = deque()
        self.buffered = 0
        self.paused = False
        self.error: Exception | None = None
        self.waiter: asyncio.Future[None] | None = None
        self.expect_body = True

    def reusable(self, now: float) -> bool:
        """Open, not too old, and silent since it came back: anything a vendor sends on an idle connection (a 408
        before it hangs up) is not the answer to the next request."""
        return (not self.closed and not self.received and self.transport is not None
                and not self.transport.is_closing() and now - self.idle_since < KEEP_ALIVE_SECONDS)  # fmt: skip

    def send(self, head: bytes) -> None:
        assert self.transport is not None
        self.transport.write(head)

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    # -- asyncio.Protocol -----------------------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.received = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(httpx.RemoteProtocolError(f"the vendor sent an invalid HTTP response: {exc}"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.head_done and not self.complete and self._ends_at_close():
            self.complete = True  # a body delimited by the connection closing, not by a length
        elif not self.complete:
            self._fail(httpx.RemoteProtocolError("the vendor closed the connection before the response ended"))
        self._wake()
        if self.on_closed is not None:
            self.on_closed(self)

    # -- httptools callbacks ----------------------------------------------------------------------------------------
    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()
        self.head_done = True
        if not self.expect_body:  # a HEAD response has no body whatever its headers say; the parser cannot know
            self.complete = True
        self._wake()

    def on_body(self, body: bytes) -> None:
        self.chunks.append(body)
        self.buffered += len(body)
        if self.buffered > READ_HIGH_WATER and not self.paused and self.transport is not None:
            self.paused = True
            self.transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        self.complete = True
        self.keep_alive = self.parser.should_keep_alive()
        self._wake()

    # -- waiting ------------------------------------------------------------------------------------------------------
    def _ends_at_close(self) -> bool:
        names = {name.lower() for name, _ in self.headers}
        return b"content-length" not in names and b"transfer-encoding" not in names

    def _fail(self, error: Exception) -> None:
        if self.error is None:
            self.error = error
        self._wake()

    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def _wait(self, timeout: float | None) -> None:
        loop = asyncio.get_running_loop()
        self.waiter = waiter = loop.create_future()
        timer = None if timeout is None else loop.call_later(timeout, _expire, waiter)
        try:
            await waiter
        finally:
            self.waiter = None
            if timer is not None:
                timer.cancel()

    async def wait_for_head(self, timeout: float | None) -> None:
        while not self.head_done:
            if self.error is not None:
                raise self.error
            await self._wait(timeout)

    async def next_chunk(self, timeout: float | None) -> bytes | None:
        """The next piece of the body, or None once it is complete."""
        while True:
            if self.chunks:
                chunk = self.chunks.popleft()
                self.buffered -= len(chunk)
                if self.paused and self.buffered < READ_LOW_WATER and self.transport is not None:
                    self.paused = False
                    self.transport.resume_reading()
                return chunk
            if self.complete:
                return None
            if self.error is not None:
                raise self.error
            await self._wait(timeout)


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(httpx.ReadTimeout("timed out waiting for the vendor"))


class _Body(httpx.AsyncByteStream):
    """The response body as it arrives; the connection goes back to the pool once it was read to the end."""

    def __init__(self, transport: KeepAliveTransport, key: tuple[str, str, int], connection: _Connection,
                 read_timeout: float | None) -> None:  # fmt: skip
        self.transport = transport
        self.key = key
        self.connection: _Connection | None = connection
        self.read_timeout = read_timeout

    async def __aiter__(self) -> AsyncIterator[bytes]:
        connection = self.connection
        if connection is None:
            return
        while (chunk := await connection.next_chunk(self.read_timeout)) is not None:
            yield chunk

    async def aclose(self) -> None:
        connection, self.connection = self.connection, None
        if connection is None:
            return
        if connection.complete and not connection.closed and connection.error is None:
            self.transport.checkin(self.key, connection)
        else:
            connection.close()  # the body was not read to its end: this connection cannot carry another request

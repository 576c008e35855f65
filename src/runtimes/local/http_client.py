"""The HTTP client every vendor call goes through on the local runtime.

httpx's own pool (httpcore) walks every pooled connection, with a socket-readability syscall each, whenever a request
is assigned or returned: at 32 concurrent requests that was over a third of the gateway's CPU. aiohttp's pool does
not, so on CPython httpx runs over aiohttp's transport (``httpx-aiohttp``): adapters keep the httpx API.

``httpx-aiohttp`` 0.2 maps every ``aiohttp.ClientConnectionError`` to ``httpx.ConnectTimeout``, so a refused
connection or a vendor hanging up would read as a timeout; failover logs and breakers need the difference, so the
mapping is corrected here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx

LIMITS = httpx.Limits(max_connections=512, max_keepalive_connections=128)


def _remap(exc: httpx.TransportError) -> httpx.TransportError:
    import aiohttp

    cause = exc.__cause__
    if isinstance(exc, httpx.TimeoutException) and isinstance(cause, aiohttp.ClientConnectionError):
        if isinstance(cause, (aiohttp.ServerTimeoutError, aiohttp.SocketTimeoutError)):
            return exc
        if isinstance(cause, aiohttp.ClientConnectorError):
            return httpx.ConnectError(str(cause))
        return httpx.RemoteProtocolError(str(cause) or type(cause).__name__)  # e.g. ServerDisconnectedError
    return exc


def vendor_http_client() -> httpx.AsyncClient:
    client = httpx.AsyncClient(transport=_LazyTransport())
    client._cookies = _NoCookies()  # no setter keeps the subclass; vendor APIs set no cookies we should send back
    return client


def warm_up() -> None:
    """Import the transport's modules (run in a thread just after the server is up, so no request pays for it)."""
    _transport_class()


class _LazyTransport(httpx.AsyncBaseTransport):
    """aiohttp costs a third of a second to import: the transport is built on the first vendor call (or by
    ``warm_up``), so the server answers its first request without waiting for it."""

    def __init__(self) -> None:
        self._inner: httpx.AsyncBaseTransport | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._inner is None:
            self._inner = _transport_class()(limits=LIMITS)
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        if self._inner is not None:
            await self._inner.aclose()


_TRANSPORT: list[Callable[..., httpx.AsyncBaseTransport]] = []


def _transport_class() -> Callable[..., httpx.AsyncBaseTransport]:
    if _TRANSPORT:
        return _TRANSPORT[0]
    try:
        from httpx_aiohttp import AiohttpTransport
    except ImportError:
        _TRANSPORT.append(httpx.AsyncHTTPTransport)
        return httpx.AsyncHTTPTransport

    class _Stream(httpx.AsyncByteStream):
        def __init__(self, inner: httpx.AsyncByteStream) -> None:
            self.inner = inner

        async def __aiter__(self) -> AsyncIterator[bytes]:
            try:
                async for chunk in self.inner:
                    yield chunk
            except httpx.TransportError as exc:
                raise _remap(exc) from exc.__cause__

        async def aclose(self) -> None:
            await self.inner.aclose()

    class Transport(AiohttpTransport):  # type: ignore[misc]
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            try:
                response = await super().handle_async_request(request)
            except httpx.TransportError as exc:
                raise _remap(exc) from exc.__cause__
            response.stream = _Stream(response.stream)  # type: ignore[arg-type]
            return response

    _TRANSPORT.append(Transport)
    return Transport


class _NoCookies(httpx.Cookies):
    """Vendors authenticate by header, never by cookie. httpx builds urllib request/response shims to extract
    cookies from every response (about 5 % of the gateway's CPU per request): skip that."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None

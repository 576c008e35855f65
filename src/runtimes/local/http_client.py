"""The HTTP client every vendor call goes through on the local runtime: httpx's API (the adapters' vocabulary on
both runtimes) over aiohttp's connection pool.

Measured on bench/overhead's fast fake (32 concurrent requests, CPU per request in one process): httpx's own pool
(httpcore) walks every pooled connection with a readability syscall per request; httpx over the ``httpx-aiohttp``
transport cost 0.18 ms; aiohttp alone 0.07 ms. The difference is httpx's client layers (auth, redirects, cookies,
event hooks — vendors use none of them) and a generic transport. So :class:`VendorClient` sends straight to
:class:`AiohttpTransport`, a transport that maps only what vendor calls use.
"""

from __future__ import annotations

import json as _json
from collections.abc import AsyncIterator
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    import aiohttp
    from yarl import URL

MAX_CONNECTIONS = 512  # per client; idle keep-alive connections are aiohttp's (15 s keep-alive by default)


class VendorClient(httpx.AsyncClient):
    """An ``httpx.AsyncClient`` whose ``send`` goes straight to the transport: vendor APIs authenticate by header,
    never redirect and set no cookies we should send back, so httpx's auth/redirect/cookie layers are skipped (and
    with them the urllib shims httpx builds to read cookies off every response)."""

    def __init__(self, transport: httpx.AsyncBaseTransport) -> None:
        super().__init__(transport=transport)
        self._vendor_transport = transport
        self._default_headers = [(k.lower().encode(), v.encode()) for k, v in self.headers.items()]

    def build_request(  # type: ignore[override]
        self,
        method: str,
        url: httpx.URL | str,
        *,
        content: bytes | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
        **others: Any,
    ) -> httpx.Request:
        """The request the adapters send most — a JSON or bytes body to an absolute URL, with a timeout — built
        without httpx's merging of base URL, cookies and query parameters (a tenth of a vendor call's CPU); anything
        else (``params=``, ``files=``, ``data=``) goes to httpx's own ``build_request``."""
        others = {name: value for name, value in others.items() if value is not None}
        if others or not isinstance(url, httpx.URL) or not isinstance(timeout, (int, float)):
            if json is not None:
                others["json"] = json
            return super().build_request(method, url, content=content, headers=headers,
                                         timeout=httpx.USE_CLIENT_DEFAULT if timeout is None else timeout,
                                         **others)  # fmt: skip
        body = content.encode() if isinstance(content, str) else content
        if json is not None:
            body = _json_bytes(json)
        named = {k.lower().encode() for k in headers} if headers else set()
        raw = [(b"Host", url.netloc)]
        raw.extend(item for item in self._default_headers if item[0] not in named)  # the adapter's win
        if headers:
            raw.extend((k.encode(), v.encode()) for k, v in headers.items())
        if json is not None and b"content-type" not in named:
            raw.append((b"Content-Type", b"application/json"))
        if body is not None or method in ("POST", "PUT", "PATCH"):
            raw.append((b"Content-Length", str(len(body or b"")).encode()))
        request = httpx.Request(method, url, headers=raw, stream=httpx.ByteStream(body or b""),
                                extensions={"timeout": _timeouts(float(timeout))})  # fmt: skip
        request.read()  # ``request.content`` readable, as httpx's own requests are
        return request

    async def send(self, request: httpx.Request, *, stream: bool = False, **_: Any) -> httpx.Response:
        response = await self._vendor_transport.handle_async_request(request)
        if not stream:
            try:
                await response.aread()
            finally:
                await response.aclose()
        return response


def _json_bytes(value: Any) -> bytes:
    # httpx's own encoding of ``json=`` (compact, UTF-8, non-ASCII kept), so vendors see the same bytes.
    return _json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")


@lru_cache(maxsize=64)
def _timeouts(seconds: float) -> dict[str, float]:
    return httpx.Timeout(seconds).as_dict()  # type: ignore[return-value]


def vendor_http_client() -> httpx.AsyncClient:
    return VendorClient(AiohttpTransport())


def warm_up() -> None:
    """Import aiohttp (a third of a second): run in a thread just after the server is up, so no request pays."""
    import aiohttp  # noqa: F401


@lru_cache(maxsize=256)
def _yarl(url: str) -> URL:
    """Vendor URLs repeat: parse each once (``encoded=True``: httpx has already quoted it)."""
    from yarl import URL

    return URL(url, encoded=True)


@lru_cache(maxsize=64)
def _timeout(connect: float | None, read: float | None, pool: float | None) -> aiohttp.ClientTimeout:
    import aiohttp

    return aiohttp.ClientTimeout(sock_connect=connect, sock_read=read, connect=pool)


class AiohttpTransport(httpx.AsyncBaseTransport):
    """httpx requests over an aiohttp session, created on the first call (aiohttp is imported late, see warm_up).
    aiohttp's failures become the httpx exceptions the adapters' boundary (``providers.http``) reads: a refused
    connection is a ``ConnectError``, a vendor hanging up a ``RemoteProtocolError``, a stall a timeout."""

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        import aiohttp

        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=MAX_CONNECTIONS),
            auto_decompress=False,  # httpx decodes the body (it sent the Accept-Encoding)
            skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),  # httpx's are sent
            cookie_jar=aiohttp.DummyCookieJar(),
        )
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        import aiohttp

        session = self._session or self._open()
        timeout = request.extensions.get("timeout") or {}
        body = await request.aread()  # request bodies are bytes already (json=, content=, multipart files=)
        try:
            response = await session._request(
                request.method,
                _yarl(str(request.url)),
                headers=[(name.decode("latin-1"), value.decode("latin-1")) for name, value in request.headers.raw],
                data=body or None,
                allow_redirects=False,
                compress=None,
                timeout=_timeout(timeout.get("connect"), timeout.get("read"), timeout.get("pool")),
            )
        except aiohttp.ClientError as exc:
            raise _httpx_error(exc) from exc
        except TimeoutError as exc:
            raise httpx.ReadTimeout("timed out") from exc
        return httpx.Response(
            status_code=response.status,
            headers=response.raw_headers,
            stream=_Body(response),
            request=request,
            extensions={"http_version": b"HTTP/1.1"},
        )

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()


class _Body(httpx.AsyncByteStream):
    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.response = response

    async def __aiter__(self) -> AsyncIterator[bytes]:
        import aiohttp

        try:
            async for chunk in self.response.content.iter_any():
                yield chunk
        except aiohttp.ClientError as exc:
            raise _httpx_error(exc) from exc
        except TimeoutError as exc:
            raise httpx.ReadTimeout("timed out reading the body") from exc

    async def aclose(self) -> None:
        self.response.release()


def _httpx_error(exc: Exception) -> httpx.TransportError:
    import aiohttp

    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return httpx.ConnectTimeout(str(exc) or "timed out connecting")
    if isinstance(exc, (aiohttp.ServerTimeoutError, aiohttp.SocketTimeoutError)):
        return httpx.ReadTimeout(str(exc) or "timed out")
    if isinstance(exc, aiohttp.ClientConnectorError):
        return httpx.ConnectError(str(exc))
    if isinstance(exc, aiohttp.ClientPayloadError):
        return httpx.ReadError(str(exc))
    return httpx.RemoteProtocolError(str(exc) or type(exc).__name__)  # e.g. ServerDisconnectedError

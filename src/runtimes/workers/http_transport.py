"""An ``httpx`` transport that sends requests with the Workers ``fetch``.

Why: Python sockets do not exist in a Worker, so none of httpx's own transports can connect; and pyodide-http (the
usual Pyodide answer) patches ``XMLHttpRequest``, which workerd does not have. The core keeps using a plain
``httpx.AsyncClient``; only its transport changes. Response bodies are read chunk by chunk from the JS
``ReadableStream``, so a vendor's audio stream is relayed as it arrives instead of being buffered.

Timeouts: ``fetch`` resolves when the response headers arrive and does not separate connecting from waiting, so the
wait for headers and the wait for each body chunk are both bounded by httpx's *read* timeout. On a timeout or when
the response is closed early the fetch is aborted (``AbortController``) so the connection is given back: a Worker
may only hold six at once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable
from typing import Any, TypeVar

import httpx

T = TypeVar("T")

# Set by fetch itself from the URL and body; passing them is at best ignored and at worst rejected.
_HEADERS_FETCH_OWNS = frozenset({"host", "content-length", "connection", "transfer-encoding", "keep-alive"})
# fetch decodes these itself but keeps the Content-Encoding header; httpx would then decode the body a second time.
_ENCODINGS_FETCH_DECODES = frozenset({"gzip", "x-gzip", "deflate", "br"})


def _redact(message: str, request: httpx.Request) -> str:
    """JS error messages may quote the URL; some vendors (Google) carry the API key in its query string."""
    url = str(request.url)
    if "?" in url:
        message = message.replace(url, url.split("?", 1)[0] + "?…")
    return message


async def _bounded(awaitable: Awaitable[T], seconds: float | None) -> T:
    if seconds is None:
        return await awaitable
    return await asyncio.wait_for(awaitable, seconds)


def _response_headers(js_response: Any) -> list[tuple[str, str]]:
    pairs = [(str(name), str(value)) for name, value in js_response.headers.items()]
    encoding = next((v.strip().lower() for k, v in pairs if k.lower() == "content-encoding"), "")
    if encoding in _ENCODINGS_FETCH_DECODES:
        # The body we read is already decoded, so neither the encoding nor the encoded length describe it.
        pairs = [(k, v) for k, v in pairs if k.lower() not in ("content-encoding", "content-length")]
    return pairs


def _chunk_bytes(chunk: Any) -> bytes:
    if isinstance(chunk, (bytes, bytearray, memoryview)):
        return bytes(chunk)
    return bytes(chunk.to_bytes())  # a Uint8Array JsProxy


class _JsBodyStream(httpx.AsyncByteStream):
    """The body of one fetch response, read from its ``ReadableStream`` as chunks arrive."""

    def __init__(self, body: Any, controller: Any, read_timeout: float | None, request: httpx.Request) -> None:
        self._body = body
        self._controller = controller
        self._read_timeout = read_timeout
        self._request = request
        self._finished = body is None

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if self._body is None:
            return
        chunks = aiter(self._body)
        while True:
            try:
                chunk = await _bounded(anext(chunks), self._read_timeout)
            except StopAsyncIteration:
                break
            except TimeoutError:
                self._abort()
                raise httpx.ReadTimeout("timed out reading the response body", request=self._request) from None
            except Exception as exc:  # noqa: BLE001 - a JsException (stream errored / aborted) on Workers
                self._abort()
                raise httpx.ReadError(
                    _redact(f"response body failed: {exc}", self._request), request=self._request
                ) from None
            data = _chunk_bytes(chunk)
            if data:
                yield data
        self._finished = True

    def _abort(self) -> None:
        self._finished = True
        with contextlib.suppress(Exception):  # already settled: nothing left to release
            self._controller.abort()

    async def aclose(self) -> None:
        if not self._finished:  # closed before the end: stop the download and free the connection
            self._abort()


class WorkersFetchTransport(httpx.AsyncBaseTransport):
    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        import js
        from pyodide.ffi import to_js
        from workers import fetch

        read_timeout = request.extensions.get("timeout", {}).get("read")
        body = await request.aread()
        controller = js.AbortController.new()
        options: dict[str, Any] = {
            "method": request.method,
            # Pairs, not a dict: a header may legitimately repeat.
            "headers": [[k, v] for k, v in request.headers.multi_items() if k.lower() not in _HEADERS_FETCH_OWNS],
            "redirect": "manual",  # httpx decides about redirects (AsyncClient does not follow them by default)
            "signal": controller.signal,
        }
        if body:
            options["body"] = to_js(body)  # a Uint8Array copy; a bare Python bytes would reach JS as a PyProxy

        try:
            response = await _bounded(fetch(str(request.url), **options), read_timeout)
        except TimeoutError:
            controller.abort()
            raise httpx.ReadTimeout("timed out waiting for the response headers", request=request) from None
        except Exception as exc:  # noqa: BLE001 - pyfetch raises OSError, the runtime JsException
            raise httpx.ConnectError(_redact(f"fetch failed: {exc}", request), request=request) from None

        status_text = getattr(response, "status_text", "") or ""
        return httpx.Response(
            status_code=int(response.status),
            headers=_response_headers(response),
            stream=_JsBodyStream(response.body, controller, read_timeout, request),
            extensions={"reason_phrase": status_text.encode("latin-1", "replace"), "http_version": b"HTTP/1.1"},
        )

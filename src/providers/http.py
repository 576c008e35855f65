"""Shared HTTP plumbing for adapters: send a request, translate transport failures and error statuses at the boundary.

Adapters call :func:`send` (whole body) or :func:`open_stream` (chunked body); both raise only
:class:`ProviderError`. Vendor-specific error bodies are read by the adapter's ``describe_error`` hook, which
returns the message and, where the vendor distinguishes them, a more precise :class:`ErrorClass` (e.g. OpenAI's
``insufficient_quota`` 429 is QUOTA, not RATE_LIMITED). A vendor that needs the error response's headers too passes
``describe_for``, which builds that hook from them.
"""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import lru_cache
from typing import Any

import httpx

from gateway.errors import ErrorClass, ProviderError

# (message, overriding class or None) from (status, parsed JSON body or None, raw text)
DescribeError = Callable[[int, Any, str], tuple[str, ErrorClass | None]]
# The hook for one error response, built from its headers: for vendors whose error type travels in a header
# (AWS's ``x-amzn-ErrorType``) rather than the body.
DescribeFromHeaders = Callable[[httpx.Headers], DescribeError]

MAX_ERROR_MESSAGE = 300


def class_for_status(status: int) -> ErrorClass:
    if status == 429:
        return ErrorClass.RATE_LIMITED
    if status in (401, 403):
        return ErrorClass.AUTH
    if status == 402:
        return ErrorClass.QUOTA
    if status in (408,):
        return ErrorClass.TIMEOUT
    if status >= 500:  # includes Anthropic's 529 overloaded
        return ErrorClass.SERVER
    if status == 404:
        return ErrorClass.UNSUPPORTED  # unknown model/voice at this vendor
    return ErrorClass.INVALID_INPUT


def retry_after_seconds(headers: httpx.Headers, body: Any = None) -> float | None:
    """The vendor's requested delay: ``retry-after-ms``, ``Retry-After`` (seconds or HTTP date), or Google's
    ``RetryInfo.retryDelay`` in the error body."""
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            parsed = email.utils.parsedate_to_datetime(value) if value else None
            if parsed is not None:
                return max(0.0, parsed.timestamp() - time.time())
    if isinstance(body, dict):
        details = (body.get("error") or {}).get("details") if isinstance(body.get("error"), dict) else None
        for detail in details or []:
            if isinstance(detail, dict) and str(detail.get("@type", "")).endswith("RetryInfo"):
                delay = str(detail.get("retryDelay", "")).rstrip("s")
                try:
                    return float(delay)
                except ValueError:
                    return None
    return None


@lru_cache(maxsize=256)
def parsed_url(url: str) -> httpx.URL:
    """Vendor URLs repeat (base URL + a few paths): parse each once, not on every call (httpx re-parses strings)."""
    return httpx.URL(url)


def _default_describe(status: int, body: Any, text: str) -> tuple[str, ErrorClass | None]:
    return (text or f"HTTP {status}"), None


def error_from_response(
    provider: str,
    status: int,
    headers: httpx.Headers,
    raw: bytes,
    describe: DescribeError | None = None,
    describe_for: DescribeFromHeaders | None = None,
) -> ProviderError:
    if describe_for is not None:
        describe = describe_for(headers)
    text = raw[:4000].decode("utf-8", "replace").strip()
    try:
        body = json.loads(text) if text else None
    except ValueError:
        body = None
    message, override = (describe or _default_describe)(status, body, text)
    return ProviderError(
        provider=provider,
        error_class=override or class_for_status(status),
        message=" ".join(str(message).split())[:MAX_ERROR_MESSAGE],
        status=status,
        retry_after=retry_after_seconds(headers, body),
    )


def transport_error(provider: str, exc: Exception) -> ProviderError:
    if isinstance(exc, httpx.TimeoutException):
        return ProviderError(provider, ErrorClass.TIMEOUT, "timed out waiting for the vendor")
    return ProviderError(provider, ErrorClass.CONNECTION, f"connection failed: {type(exc).__name__}")


async def send(
    http: httpx.AsyncClient,
    provider: str,
    method: str,
    url: str,
    *,
    timeout: float,
    describe: DescribeError | None = None,
    describe_for: DescribeFromHeaders | None = None,
    **kwargs: Any,
) -> httpx.Response:
    """One request, body read in full. Non-2xx and transport failures become ``ProviderError``."""
    try:
        response = await http.request(method, parsed_url(url), timeout=timeout, **kwargs)
    except httpx.HTTPError as exc:
        raise transport_error(provider, exc) from None
    if response.status_code >= 400:
        raise error_from_response(
            provider, response.status_code, response.headers, response.content, describe, describe_for
        )
    return response


@asynccontextmanager
async def open_stream(
    http: httpx.AsyncClient,
    provider: str,
    method: str,
    url: str,
    *,
    timeout: float,
    describe: DescribeError | None = None,
    describe_for: DescribeFromHeaders | None = None,
    **kwargs: Any,
) -> AsyncIterator[httpx.Response]:
    """A streamed request: yields the response once headers arrived (errors read and raised before that)."""
    request = http.build_request(method, parsed_url(url), timeout=timeout, **kwargs)
    try:
        response = await http.send(request, stream=True)
    except httpx.HTTPError as exc:
        raise transport_error(provider, exc) from None
    try:
        if response.status_code >= 400:
            try:
                raw = await response.aread()
            except httpx.HTTPError:
                raw = b""
            raise error_from_response(provider, response.status_code, response.headers, raw, describe, describe_for)
        yield response
    finally:
        await response.aclose()


async def iter_body(provider: str, response: httpx.Response) -> AsyncIterator[bytes]:
    """Body chunks; a cut or stalled body becomes ``ProviderError`` (CONNECTION / TIMEOUT)."""
    try:
        async for chunk in response.aiter_bytes():
            if chunk:
                yield chunk
    except httpx.HTTPError as exc:
        raise transport_error(provider, exc) from None


def parse_json(provider: str, response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        raise ProviderError(provider, ErrorClass.MALFORMED, "vendor returned a body that is not JSON") from None

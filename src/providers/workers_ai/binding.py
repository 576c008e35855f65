"""Calling the ``AI`` binding on Workers: ``await env.AI.run(model, inputs, options)`` instead of HTTP.

The core never imports ``js``; everything here duck-types what the binding hands back through Pyodide, so a plain
Python stand-in works the same on CPython. JSON models answer with a dict; Aura answers with a JS
``ReadableStream`` of audio; ``"stream": true`` LLM calls answer with a ``ReadableStream`` of SSE bytes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import Any

from gateway.errors import ErrorClass, ProviderError

from .api import PROVIDER_ID

BINDING_NAME = "AI"


def get_binding(bindings: Mapping[str, Any]) -> Any | None:
    return bindings.get(BINDING_NAME)


def classify_binding_error(exc: BaseException) -> ProviderError:
    """Binding failures are exceptions whose text carries the Workers AI code/status (e.g. "5006: …", "429 …")."""
    message = " ".join(str(exc).split())[:300] or type(exc).__name__
    lowered = message.lower()
    if "3036" in lowered or "daily free allocation" in lowered:
        error_class = ErrorClass.QUOTA  # out of free Neurons: same as the REST 3036
    elif "429" in lowered or "rate limit" in lowered or "3040" in lowered:
        error_class = ErrorClass.RATE_LIMITED
    elif "5007" in lowered or "no such model" in lowered:
        error_class = ErrorClass.UNSUPPORTED
    elif "400" in lowered or "invalid" in lowered or "5006" in lowered:
        error_class = ErrorClass.INVALID_INPUT
    else:
        error_class = ErrorClass.SERVER
    return ProviderError(PROVIDER_ID, error_class, f"AI binding: {message}")


async def run(binding: Any, model: str, inputs: dict[str, Any], options: dict[str, Any] | None, timeout: float) -> Any:
    """One binding call under the attempt's deadline; every failure becomes ``ProviderError``."""
    try:
        if options:
            return await asyncio.wait_for(binding.run(model, inputs, options), timeout)
        return await asyncio.wait_for(binding.run(model, inputs), timeout)
    except TimeoutError:
        raise ProviderError(PROVIDER_ID, ErrorClass.TIMEOUT, "timed out waiting for the AI binding") from None
    except ProviderError:
        raise
    except Exception as exc:  # noqa: BLE001 - a JsException on Workers, whatever the stand-in raises on CPython
        raise classify_binding_error(exc) from None


def _as_bytes(chunk: Any) -> bytes:
    if isinstance(chunk, (bytes, bytearray, memoryview)):
        return bytes(chunk)
    if hasattr(chunk, "to_bytes"):  # Pyodide JsProxy of a Uint8Array / ArrayBuffer
        return bytes(chunk.to_bytes())
    if isinstance(chunk, str):  # a ReadableStream of text (SSE decoded by a TextDecoderStream)
        return chunk.encode("utf-8")
    raise ProviderError(PROVIDER_ID, ErrorClass.MALFORMED, f"AI binding returned {type(chunk).__name__}, not bytes")


async def iter_binding_bytes(value: Any) -> AsyncIterator[bytes]:
    """Bytes from what the binding returns for binary/streamed models.

    Expects, in order: Python ``bytes``; a JS ``Uint8Array``/``ArrayBuffer`` proxy (``.to_bytes()``); a JS
    ``ReadableStream`` proxy, which Pyodide lets us ``async for`` over, each chunk a ``Uint8Array``; or a JS
    ``Response`` (``returnRawResponse``), read through ``.body`` or ``await .arrayBuffer()``. A failure while
    reading the stream is a cut connection.
    """
    if isinstance(value, (bytes, bytearray, memoryview)) or hasattr(value, "to_bytes"):
        yield _as_bytes(value)
        return
    if getattr(value, "body", None) is not None and hasattr(value.body, "__aiter__"):
        value = value.body
    if hasattr(value, "__aiter__"):
        try:
            async for chunk in value:
                data = _as_bytes(chunk)
                if data:
                    yield data
        except ProviderError:
            raise
        except Exception as exc:  # noqa: BLE001 - a JsException when the JS stream errors
            raise ProviderError(PROVIDER_ID, ErrorClass.CONNECTION, f"AI binding stream failed: {exc}"[:300]) from None
        return
    if hasattr(value, "arrayBuffer"):
        yield _as_bytes(await value.arrayBuffer())
        return
    raise ProviderError(PROVIDER_ID, ErrorClass.MALFORMED, f"AI binding returned {type(value).__name__}, not audio")


def as_result(value: Any) -> Any:
    """JSON models: the binding returns the result object itself (no envelope). A JsProxy converts with to_py()."""
    if hasattr(value, "to_py") and not isinstance(value, dict):
        value = value.to_py()
    if not isinstance(value, dict):
        raise ProviderError(
            PROVIDER_ID, ErrorClass.MALFORMED, f"AI binding returned {type(value).__name__}, not an object"
        )
    return value

"""Llama text generation on Workers AI: request body, JSON result and SSE stream parsing (pure, no I/O).

Input ``{"messages": [{"role", "content"}], "max_tokens", "temperature", "stream"}``; result
``{"response": "…", "usage": {"prompt_tokens", "completion_tokens", "total_tokens"}}``. With ``"stream": true`` the
answer is SSE: ``data: {"response": "…", "p": "…"}`` per piece, then ``data: {"response": "", "usage": {…}}``, then
``data: [DONE]``. The final usage event is what callers observe live [3P]; the model docs only say "SSE".
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from gateway.errors import ErrorClass, ProviderError
from providers.base import CompletionChunk, CompletionRequest, CompletionResult
from providers.sse import iter_sse_bytes

from .api import PROVIDER_ID, describe_error

LLAMA_8B = "@cf/meta/llama-3.1-8b-instruct"
LLAMA_8B_FAST = "@cf/meta/llama-3.1-8b-instruct-fp8-fast"


def completion_inputs(request: CompletionRequest, *, stream: bool = False) -> dict[str, Any]:
    inputs: dict[str, Any] = {"messages": [{"role": m.role, "content": m.content} for m in request.messages]}
    if request.max_tokens is not None:
        inputs["max_tokens"] = request.max_tokens
    if request.temperature is not None:
        inputs["temperature"] = request.temperature
    if stream:
        inputs["stream"] = True
    return inputs


def reported_usage(result: Any) -> tuple[int, int] | None:
    """(prompt_tokens, completion_tokens) when the model reported them, else None."""
    usage = result.get("usage") if isinstance(result, dict) else None
    if not isinstance(usage, dict):
        return None
    try:
        return int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
    except (TypeError, ValueError):
        return None


def parse_completion(result: Any, model: str) -> CompletionResult:
    if not isinstance(result, dict) or not isinstance(result.get("response"), str):
        raise ProviderError(PROVIDER_ID, ErrorClass.MALFORMED, "completion result has no response text")
    # Tokens are recorded only as the model reports them. Without a usage object we record 0 rather than invent
    # counts from text length: the usage row then shows a free call, which an audit can find, not a made-up bill.
    input_tokens, output_tokens = reported_usage(result) or (0, 0)
    return CompletionResult(
        text=result["response"], model=model, input_tokens=input_tokens, output_tokens=output_tokens
    )


async def parse_stream(chunks: AsyncIterator[bytes], model: str) -> AsyncIterator[CompletionChunk]:
    """SSE bytes (split anywhere) → text chunks, then one final chunk carrying the reported usage.

    A stream that ends before ``[DONE]`` was cut; an event that is not JSON is MALFORMED; an error object inside
    the stream is the vendor failing mid-answer.
    """
    usage: tuple[int, int] | None = None
    async for _event, data in iter_sse_bytes(PROVIDER_ID, chunks):
        if data.strip() == "[DONE]":
            input_tokens, output_tokens = usage if usage else (None, None)
            yield CompletionChunk(
                finish_reason="stop", input_tokens=input_tokens, output_tokens=output_tokens, model=model
            )
            return
        try:
            payload = json.loads(data)
        except ValueError:
            raise ProviderError(PROVIDER_ID, ErrorClass.MALFORMED, "stream event is not JSON") from None
        if not isinstance(payload, dict):
            raise ProviderError(PROVIDER_ID, ErrorClass.MALFORMED, "stream event is not an object")
        if payload.get("errors") or payload.get("error"):
            message, override = describe_error(200, payload, str(payload.get("error") or ""))
            raise ProviderError(PROVIDER_ID, override or ErrorClass.SERVER, f"stream failed: {message}"[:300])
        usage = reported_usage(payload) or usage
        text = payload.get("response")
        if isinstance(text, str) and text:
            yield CompletionChunk(text=text, model=model)
    raise ProviderError(PROVIDER_ID, ErrorClass.CONNECTION, "stream ended before [DONE]")

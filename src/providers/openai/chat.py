"""``POST /chat/completions`` wire format: our CompletionRequest → OpenAI's JSON body; completions and SSE chunks back.

Streams ask for ``stream_options.include_usage`` so the final chunk (``choices: []``) carries the token usage.
"""

from __future__ import annotations

import json
from typing import Any

from gateway.errors import ErrorClass, ProviderError
from providers.base import CompletionChunk, CompletionRequest, CompletionResult
from providers.openai.api import PROVIDER_ID

DONE = "[DONE]"


def chat_payload(request: CompletionRequest, *, model: str, stream: bool = False) -> dict[str, Any]:
    if not request.messages:
        raise ProviderError(PROVIDER_ID, ErrorClass.INVALID_INPUT, "no messages")
    payload: dict[str, Any] = {
        "model": model,
        "messages": [{"role": m.role, "content": m.content} for m in request.messages],
    }
    if request.max_tokens is not None:
        payload["max_completion_tokens"] = request.max_tokens  # `max_tokens` is deprecated on this endpoint
    if request.temperature is not None:
        payload["temperature"] = request.temperature
    if stream:
        payload["stream"] = True
        payload["stream_options"] = {"include_usage": True}
    return payload


def parse_completion(body: Any, *, model: str) -> CompletionResult:
    try:
        choice = body["choices"][0]
        content = choice["message"].get("content") or ""
        usage = body["usage"]
        return CompletionResult(
            text=str(content),
            model=str(body.get("model") or model),
            input_tokens=int(usage["prompt_tokens"]),
            output_tokens=int(usage["completion_tokens"]),
            finish_reason=choice.get("finish_reason"),
        )
    except (KeyError, IndexError, TypeError, ValueError, AttributeError):
        raise ProviderError(PROVIDER_ID, ErrorClass.MALFORMED, "completion is missing choices or usage") from None


def parse_stream_event(data: str) -> CompletionChunk | None:
    """One SSE ``data`` → a chunk worth passing on (text, finish reason or usage), or None (e.g. the role chunk).

    ``[DONE]`` is the caller's to handle. A ``{"error": ...}`` event mid-stream is the vendor failing after the
    200 was sent.
    """
    try:
        event = json.loads(data)
    except ValueError:
        raise ProviderError(PROVIDER_ID, ErrorClass.MALFORMED, "stream chunk is not JSON") from None
    if not isinstance(event, dict):
        raise ProviderError(PROVIDER_ID, ErrorClass.MALFORMED, "stream chunk is not an object")
    if event.get("error"):
        error = event["error"]
        message = error.get("message") if isinstance(error, dict) else str(error)
        raise ProviderError(PROVIDER_ID, ErrorClass.SERVER, str(message or "error event in stream")[:300])
    try:
        model = event.get("model")
        usage = event.get("usage")
        if usage:
            return CompletionChunk(
                input_tokens=int(usage["prompt_tokens"]), output_tokens=int(usage["completion_tokens"]), model=model
            )
        choices = event.get("choices") or []
        if not choices:
            return None
        delta = choices[0].get("delta") or {}
        text = delta.get("content") or ""
        finish_reason = choices[0].get("finish_reason")
    except (KeyError, TypeError, ValueError, AttributeError):
        raise ProviderError(PROVIDER_ID, ErrorClass.MALFORMED, "stream chunk has unexpected fields") from None
    if not text and not finish_reason:
        return None
    return CompletionChunk(text=str(text), finish_reason=finish_reason, model=model)

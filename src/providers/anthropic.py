"""Anthropic Messages API (``POST /v1/messages``), whole and streamed (named SSE events).

Wire format: reference/providers.md §6. The stream is ``message_start`` (input tokens) → ``content_block_delta``
(``text_delta``) … → ``message_delta`` (cumulative output tokens, stop reason) → ``message_stop``; ``ping`` is a
keep-alive. Only ``message_stop`` proves the answer is complete, so a stream that ends without it is a cut.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from gateway.errors import ErrorClass, ProviderError
from providers.base import (
    Call,
    Capability,
    CompletionChunk,
    CompletionRequest,
    CompletionResult,
    PriceTable,
    Provider,
    Unit,
    per_million,
)
from providers.http import open_stream, parse_json, send
from providers.sse import iter_sse

API_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 1024  # max_tokens is required by the API; the gateway's requests may leave it out

# Anthropic stop_reason → the OpenAI-style finish_reason the gateway exposes.
FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "refusal": "content_filter",
    "tool_use": "tool_calls",
}
# Error types seen in an `event: error` mid-stream (the HTTP status is already 200 by then).
STREAM_ERROR_CLASSES = {
    "overloaded_error": ErrorClass.SERVER,
    "api_error": ErrorClass.SERVER,
    "rate_limit_error": ErrorClass.RATE_LIMITED,
    "timeout_error": ErrorClass.TIMEOUT,
}


# -- wire format -------------------------------------------------------------------------------------------------
def messages_payload(request: CompletionRequest, model: str, *, stream: bool = False) -> dict[str, Any]:
    system = [m.content for m in request.messages if m.role in ("system", "developer")]
    payload: dict[str, Any] = {
        "model": model,
        "max_tokens": request.max_tokens or DEFAULT_MAX_TOKENS,
        "messages": [
            {"role": "assistant" if m.role == "assistant" else "user", "content": m.content}
            for m in request.messages
            if m.role not in ("system", "developer")
        ],
    }
    if system:
        payload["system"] = "\n\n".join(system)
    if request.temperature is not None:
        payload["temperature"] = request.temperature
    if stream:
        payload["stream"] = True
    return payload


def finish_reason(stop_reason: Any) -> str | None:
    return FINISH_REASONS.get(stop_reason, stop_reason) if isinstance(stop_reason, str) else None


def parse_message(body: Any, model: str) -> CompletionResult:
    try:
        usage = body["usage"]
        text = "".join(block["text"] for block in body["content"] if block.get("type") == "text")
        return CompletionResult(
            text=text,
            model=str(body.get("model") or model),
            # We never send cache_control, so cache_* token counts are zero and input_tokens is the whole prompt.
            input_tokens=int(usage["input_tokens"]),
            output_tokens=int(usage["output_tokens"]),
            finish_reason=finish_reason(body.get("stop_reason")),
        )
    except (KeyError, TypeError, ValueError, AttributeError):
        raise ProviderError("anthropic", ErrorClass.MALFORMED, "unexpected messages response") from None


def describe_error(status: int, body: Any, text: str) -> tuple[str, ErrorClass | None]:
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return (text or f"HTTP {status}"), None
    kind, message = str(error.get("type") or ""), str(error.get("message") or "")
    details = error.get("details") if isinstance(error.get("details"), dict) else {}
    if details.get("error_code") == "enforced_spend_limit_reached":
        return f"{kind}: {message}", ErrorClass.QUOTA  # the workspace spend cap: retrying cannot help
    if kind == "billing_error" or "credit balance is too low" in message.lower():
        # An empty prepaid balance comes back as a 400 invalid_request_error [UNCONF: observed, not in providers.md].
        return f"{kind}: {message}", ErrorClass.QUOTA
    return f"{kind}: {message}", None


class StreamState:
    """Folds stream events into chunks; remembers usage until ``message_stop`` closes the answer."""

    def __init__(self, model: str) -> None:
        self.model = model
        self.input_tokens = 0
        self.output_tokens = 0
        self.stop_reason: str | None = None
        self.done = False

    def on_event(self, name: str, data: str) -> CompletionChunk | None:
        if name == "ping":
            return None
        try:
            payload = json.loads(data)
        except ValueError:
            raise ProviderError("anthropic", ErrorClass.MALFORMED, f"{name} event is not JSON") from None
        try:
            return self._apply(str(payload.get("type", name)), payload)
        except (AttributeError, TypeError, ValueError):
            raise ProviderError("anthropic", ErrorClass.MALFORMED, f"unexpected {name} event") from None

    def _apply(self, kind: str, payload: dict[str, Any]) -> CompletionChunk | None:
        if kind == "error":
            error = payload.get("error") or {}
            error_type = str(error.get("type") or "")
            message = f"stream error {error_type}: {error.get('message') or ''}".strip()
            raise ProviderError("anthropic", STREAM_ERROR_CLASSES.get(error_type, ErrorClass.SERVER), message)
        if kind == "message_start":
            message = payload.get("message") or {}
            self.model = str(message.get("model") or self.model)
            self.input_tokens = int((message.get("usage") or {}).get("input_tokens") or 0)
            self.output_tokens = int((message.get("usage") or {}).get("output_tokens") or 0)
        elif kind == "content_block_delta":
            delta = payload.get("delta") or {}
            if delta.get("type") == "text_delta" and delta.get("text"):
                return CompletionChunk(text=str(delta["text"]), model=self.model)
        elif kind == "message_delta":
            usage = payload.get("usage") or {}
            self.output_tokens = int(usage.get("output_tokens", self.output_tokens))  # cumulative, not a delta
            self.input_tokens = int(usage.get("input_tokens") or self.input_tokens)
            self.stop_reason = (payload.get("delta") or {}).get("stop_reason") or self.stop_reason
        elif kind == "message_stop":
            self.done = True
            return CompletionChunk(
                finish_reason=finish_reason(self.stop_reason),
                input_tokens=self.input_tokens,
                output_tokens=self.output_tokens,
                model=self.model,
            )
        return None


# -- adapter ---------------------------------------------------------------------------------------------------------
class AnthropicProvider(Provider):
    id = "anthropic"
    capabilities = frozenset({Capability.LLM})
    # List prices, USD per 1M tokens in/out: providers.md §6 [3P api-evangelist citing anthropic.com/pricing, May 2026].
    prices = PriceTable(
        as_of="2026-05",
        prices={
            "claude-haiku-4-5": {Unit.INPUT_TOKEN: per_million("1.00"), Unit.OUTPUT_TOKEN: per_million("5.00")},
            "claude-sonnet-4-6": {Unit.INPUT_TOKEN: per_million("3.00"), Unit.OUTPUT_TOKEN: per_million("15.00")},
            "claude-opus-4-7": {Unit.INPUT_TOKEN: per_million("5.00"), Unit.OUTPUT_TOKEN: per_million("25.00")},
            # Unknown models are charged like the most expensive one we list, so budgets err on the safe side.
            "*": {Unit.INPUT_TOKEN: per_million("5.00"), Unit.OUTPUT_TOKEN: per_million("25.00")},
        },
    )
    default_llm_model = "claude-haiku-4-5"
    env_key = "ANTHROPIC_API_KEY"
    env_base_url = "ANTHROPIC_BASE_URL"
    default_base_url = "https://api.anthropic.com"

    @staticmethod
    def _headers(call: Call) -> dict[str, str]:
        return {"x-api-key": call.credentials.api_key or "", "anthropic-version": API_VERSION}

    @staticmethod
    def _url(call: Call, path: str) -> str:
        return f"{call.credentials.base_url.rstrip('/')}{path}"

    def _model(self, request: CompletionRequest) -> str:
        return request.model or self.default_llm_model or ""

    async def complete(self, call: Call, request: CompletionRequest) -> CompletionResult:
        model = self._model(request)
        response = await send(
            call.http, self.id, "POST", self._url(call, "/v1/messages"), timeout=call.timeout,
            describe=describe_error, headers=self._headers(call), json=messages_payload(request, model),
        )  # fmt: skip
        return parse_message(parse_json(self.id, response), model)

    async def stream_completion(self, call: Call, request: CompletionRequest) -> AsyncIterator[CompletionChunk]:
        state = StreamState(self._model(request))
        payload = messages_payload(request, state.model, stream=True)
        async with open_stream(
            call.http, self.id, "POST", self._url(call, "/v1/messages"), timeout=call.timeout,
            describe=describe_error, headers=self._headers(call), json=payload,
        ) as response:  # fmt: skip
            async for event, data in iter_sse(self.id, response):
                chunk = state.on_event(event, data)
                if chunk is not None:
                    yield chunk
                if state.done:
                    return
        raise ProviderError(self.id, ErrorClass.CONNECTION, "stream ended before message_stop")

    async def probe(self, call: Call) -> None:
        response = await send(
            call.http, self.id, "GET", self._url(call, "/v1/models"), timeout=call.timeout,
            describe=describe_error, headers=self._headers(call), params={"limit": 1},
        )  # fmt: skip
        if not isinstance(parse_json(self.id, response), dict):
            raise ProviderError(self.id, ErrorClass.MALFORMED, "unexpected models response")

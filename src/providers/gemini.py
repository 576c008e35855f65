"""Gemini API (``generativelanguage.googleapis.com``): ``models/{model}:generateContent`` and its SSE stream.

Wire format: reference/providers.md §4.3. Roles are ``user``/``model``; system messages travel separately as
``systemInstruction``. The stream (``:streamGenerateContent?alt=sse``) is ``data: <GenerateContentResponse>`` events
with no ``[DONE]`` sentinel: the last chunk carries ``finishReason`` and the final ``usageMetadata``. A stream that
stops before any ``finishReason`` was cut. Errors use Google's shape, so the Google adapter's reader is shared.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

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
from providers.google import describe_google_error
from providers.http import class_for_status, open_stream, parse_json, send
from providers.sse import iter_sse

# Gemini finishReason → the OpenAI-style finish_reason the gateway exposes.
FINISH_REASONS = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
}


# -- wire format -------------------------------------------------------------------------------------------------
def generate_payload(request: CompletionRequest) -> dict[str, Any]:
    system = [{"text": m.content} for m in request.messages if m.role in ("system", "developer")]
    payload: dict[str, Any] = {
        "contents": [
            {"role": "model" if m.role == "assistant" else "user", "parts": [{"text": m.content}]}
            for m in request.messages
            if m.role not in ("system", "developer")
        ]
    }
    if system:
        payload["systemInstruction"] = {"parts": system}
    config: dict[str, Any] = {}
    if request.temperature is not None:
        config["temperature"] = request.temperature
    if request.max_tokens is not None:
        config["maxOutputTokens"] = request.max_tokens
    if config:
        payload["generationConfig"] = config
    return payload


def usage_tokens(usage: Any) -> tuple[int, int]:
    """(input, output) tokens. Thinking tokens are billed at the output rate, so they count as output."""
    if not isinstance(usage, dict):
        return 0, 0
    output = int(usage.get("candidatesTokenCount") or 0) + int(usage.get("thoughtsTokenCount") or 0)
    return int(usage.get("promptTokenCount") or 0), output


def candidate_text(body: dict[str, Any]) -> tuple[str, str | None]:
    """The first candidate's visible text (thought summaries skipped) and its finish reason (None while streaming)."""
    candidates = body.get("candidates") or []
    if not candidates:
        return "", None
    candidate = candidates[0]
    parts = (candidate.get("content") or {}).get("parts") or []
    text = "".join(str(p.get("text", "")) for p in parts if not p.get("thought"))
    reason = candidate.get("finishReason")
    return text, (FINISH_REASONS.get(reason, str(reason).lower()) if reason else None)


def check_blocked(body: dict[str, Any]) -> None:
    """A prompt Gemini refuses comes back 200 with ``promptFeedback.blockReason`` and no candidates."""
    reason = (body.get("promptFeedback") or {}).get("blockReason")
    if reason and not body.get("candidates"):
        raise ProviderError("gemini", ErrorClass.INVALID_INPUT, f"prompt blocked: {reason}")


def parse_generate(body: Any, model: str) -> CompletionResult:
    try:
        if "error" in body:
            raise stream_error(body)
        check_blocked(body)
        text, reason = candidate_text(body)
        if not body.get("candidates"):
            raise ValueError("no candidates")
        input_tokens, output_tokens = usage_tokens(body.get("usageMetadata"))
        return CompletionResult(
            text=text,
            model=str(body.get("modelVersion") or model),
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            finish_reason=reason,
        )
    except (AttributeError, TypeError, ValueError, IndexError, KeyError):
        raise ProviderError("gemini", ErrorClass.MALFORMED, "unexpected generateContent response") from None


def stream_error(body: dict[str, Any]) -> ProviderError:
    """An error object delivered inside a 200 stream (the status line was already sent)."""
    error = body.get("error") if isinstance(body.get("error"), dict) else {}
    code = int(error.get("code") or 500)
    message, override = describe_google_error(code, body, "")
    return ProviderError("gemini", override or class_for_status(code), message, status=code)


class StreamState:
    """Folds streamed GenerateContentResponse chunks; usage is whatever the latest chunk reported."""

    def __init__(self, model: str) -> None:
        self.model = model
        self.input_tokens = 0
        self.output_tokens = 0
        self.finish_reason: str | None = None

    def on_data(self, data: str) -> CompletionChunk | None:
        try:
            body = json.loads(data)
            if not isinstance(body, dict):
                raise TypeError("chunk is not an object")
            if "error" in body:
                raise stream_error(body)
            check_blocked(body)
            text, reason = candidate_text(body)
            if body.get("usageMetadata"):
                self.input_tokens, self.output_tokens = usage_tokens(body["usageMetadata"])
            self.model = str(body.get("modelVersion") or self.model)
        except (AttributeError, TypeError, ValueError, IndexError, KeyError):
            raise ProviderError("gemini", ErrorClass.MALFORMED, "unexpected streamGenerateContent chunk") from None
        self.finish_reason = reason or self.finish_reason
        return CompletionChunk(text=text, model=self.model) if text else None

    def final(self) -> CompletionChunk:
        return CompletionChunk(
            finish_reason=self.finish_reason,
            input_tokens=self.input_tokens,
            output_tokens=self.output_tokens,
            model=self.model,
        )


# -- adapter ---------------------------------------------------------------------------------------------------------
class GeminiProvider(Provider):
    id = "gemini"
    capabilities = frozenset({Capability.LLM})
    # [UNCONF] Paid-tier list prices per 1M tokens (text input / output incl. thinking, prompts ≤ 200k tokens) as
    # published on ai.google.dev/gemini-api/docs/pricing since the 2.5 GA of 2025-06-17, from memory: providers.md
    # §4 found no official stored copy. Unlisted models are charged like gemini-2.5-pro, the dearest listed.
    prices = PriceTable(
        as_of="2025-06-17",
        prices={
            "gemini-2.5-flash": {Unit.INPUT_TOKEN: per_million("0.30"), Unit.OUTPUT_TOKEN: per_million("2.50")},
            "gemini-2.5-pro": {Unit.INPUT_TOKEN: per_million("1.25"), Unit.OUTPUT_TOKEN: per_million("10.00")},
            "*": {Unit.INPUT_TOKEN: per_million("1.25"), Unit.OUTPUT_TOKEN: per_million("10.00")},
        },
    )
    default_llm_model = "gemini-2.5-flash"
    env_key = "GEMINI_API_KEY"
    env_base_url = "GEMINI_BASE_URL"
    default_base_url = "https://generativelanguage.googleapis.com"

    @staticmethod
    def _headers(call: Call) -> dict[str, str]:
        return {"x-goog-api-key": call.credentials.api_key or ""}

    def _model(self, request: CompletionRequest) -> str:
        return (request.model or self.default_llm_model or "").removeprefix("models/")

    @staticmethod
    def _url(call: Call, model: str, method: str) -> str:
        return f"{call.credentials.base_url.rstrip('/')}/v1beta/models/{quote(model, safe='.-_')}:{method}"

    async def complete(self, call: Call, request: CompletionRequest) -> CompletionResult:
        model = self._model(request)
        response = await send(
            call.http, self.id, "POST", self._url(call, model, "generateContent"), timeout=call.timeout,
            describe=describe_google_error, headers=self._headers(call), json=generate_payload(request),
        )  # fmt: skip
        return parse_generate(parse_json(self.id, response), model)

    async def stream_completion(self, call: Call, request: CompletionRequest) -> AsyncIterator[CompletionChunk]:
        state = StreamState(self._model(request))
        async with open_stream(
            call.http, self.id, "POST", self._url(call, state.model, "streamGenerateContent"), timeout=call.timeout,
            describe=describe_google_error, headers=self._headers(call), params={"alt": "sse"},
            json=generate_payload(request),
        ) as response:  # fmt: skip
            async for _event, data in iter_sse(self.id, response):
                chunk = state.on_data(data)
                if chunk is not None:
                    yield chunk
        if state.finish_reason is None:  # no terminator in this protocol: only finishReason proves completion
            raise ProviderError(self.id, ErrorClass.CONNECTION, "stream ended before a finishReason")
        yield state.final()

    async def probe(self, call: Call) -> None:
        url = f"{call.credentials.base_url.rstrip('/')}/v1beta/models"
        response = await send(
            call.http, self.id, "GET", url, timeout=call.timeout, describe=describe_google_error,
            headers=self._headers(call), params={"pageSize": 1},
        )  # fmt: skip
        if not isinstance(parse_json(self.id, response), dict):
            raise ProviderError(self.id, ErrorClass.MALFORMED, "unexpected models response")

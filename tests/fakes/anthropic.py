"""Fake Anthropic Messages API: ``POST /v1/messages`` (JSON or named-event SSE) and ``GET /v1/models``.

Speaks reference/providers.md §6. Auth: ``x-api-key`` must be ``test-anthropic-key`` (else 401
``authentication_error``) and ``anthropic-version`` must be present (else 400). Errors are
``{"type": "error", "error": {"type", "message"}, "request_id"}`` with the documented type per status (529
``overloaded_error`` …); ``Retry-After`` only when the fault sets it. Token counts come from the input: one token per
whitespace-separated word of the system prompt and messages; the reply is cut at ``max_tokens`` words.

``state.options``: ``reply`` (the answer text), ``stream_error_after`` (send ``event: error`` overloaded after that
many text deltas). Faults: "cut" drops the connection after ``after_chunks`` events, in the middle of the next one;
"slow" pauses ``delay`` between events; "malformed" sends a 200 that is not the documented shape.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.fakes.harness import CutConnection, FakeState, Fault

API_KEY = "test-anthropic-key"
MODELS = ("claude-haiku-4-5", "claude-sonnet-4-6", "claude-opus-4-7")
DEFAULT_REPLY = "Hello! How can I help you today?"
ERROR_TYPES = {
    400: "invalid_request_error", 401: "authentication_error", 402: "billing_error", 403: "permission_error",
    404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error", 500: "api_error",
    504: "timeout_error", 529: "overloaded_error",
}  # fmt: skip


def error_body(status: int, message: str, kind: str | None = None) -> dict[str, Any]:
    kind = kind or ERROR_TYPES.get(status, "api_error")
    return {"type": "error", "error": {"type": kind, "message": message}, "request_id": "req_fake0001"}


def error_response(
    status: int, message: str, kind: str | None = None, headers: dict[str, str] | None = None
) -> Response:
    return JSONResponse(error_body(status, message, kind), status_code=status, headers=headers)


def fault_response(fault: Fault) -> Response:
    headers = {"retry-after": fault.retry_after} if fault.retry_after is not None else None
    body = (
        fault.body
        if fault.body is not None
        else error_body(fault.status, "Fake failure" if fault.status != 529 else "Overloaded")
    )
    return JSONResponse(body, status_code=fault.status, headers=headers)


def count_tokens(text: str) -> int:
    return len(text.split())


def sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


def create_app(state: FakeState) -> Starlette:
    async def messages(request: Request) -> Response:
        await state.record(request)
        if request.headers.get("x-api-key") != API_KEY:
            return error_response(401, "invalid x-api-key")
        if not request.headers.get("anthropic-version"):
            return error_response(400, "anthropic-version: header is required")
        fault = await state.before_response()
        if fault and fault.kind == "status":
            return fault_response(fault)
        try:
            body = json.loads(await request.body())
        except ValueError:
            return error_response(400, "Invalid JSON in request body")
        problem = validate(body)
        if problem:
            status, message = problem
            return error_response(status, message)
        system = body.get("system") or ""
        prompt = " ".join(
            [system if isinstance(system, str) else ""] + [str(m.get("content")) for m in body["messages"]]
        )
        words = str(state.options.get("reply", DEFAULT_REPLY)).split()
        stop_reason = "max_tokens" if len(words) > body["max_tokens"] else "end_turn"
        words = words[: body["max_tokens"]]
        usage = {"input_tokens": count_tokens(prompt), "output_tokens": len(words)}
        if body.get("stream"):
            return StreamingResponse(
                stream(state, fault, body["model"], words, usage, stop_reason), media_type="text/event-stream"
            )
        if fault and fault.kind == "malformed":
            return JSONResponse({"id": "msg_fake", "type": "message", "content": "not a list"})
        message = {
            "id": "msg_fake0001", "type": "message", "role": "assistant",
            "content": [{"type": "text", "text": " ".join(words)}], "model": body["model"],
            "stop_reason": stop_reason, "stop_sequence": None,
            "usage": {**usage, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0},
        }  # fmt: skip
        if fault and fault.kind == "cut":
            payload = json.dumps(message).encode()

            async def cut() -> AsyncIterator[bytes]:
                yield payload[: len(payload) // 2]
                raise CutConnection()

            return StreamingResponse(cut(), media_type="application/json")
        return JSONResponse(message)

    async def models(request: Request) -> Response:
        await state.record(request)
        if request.headers.get("x-api-key") != API_KEY:
            return error_response(401, "invalid x-api-key")
        fault = await state.before_response()
        if fault and fault.kind == "status":
            return fault_response(fault)
        if fault and fault.kind == "malformed":
            return Response("<html>gateway error</html>", media_type="text/html")
        data = [{"type": "model", "id": m, "display_name": m, "created_at": "2026-01-01T00:00:00Z"} for m in MODELS]
        return JSONResponse({"data": data, "has_more": False, "first_id": MODELS[0], "last_id": MODELS[-1]})

    return Starlette(
        routes=[Route("/v1/messages", messages, methods=["POST"]), Route("/v1/models", models, methods=["GET"])]
    )


def validate(body: Any) -> tuple[int, str] | None:
    if not isinstance(body, dict):
        return 400, "body must be an object"
    if not isinstance(body.get("max_tokens"), int) or body["max_tokens"] < 1:
        return 400, "max_tokens: Field required"
    if not isinstance(body.get("messages"), list) or not body["messages"]:
        return 400, "messages: at least one message is required"
    if any(m.get("role") not in ("user", "assistant") for m in body["messages"]):
        return 400, "messages: roles must be 'user' or 'assistant' (use the top-level system parameter)"
    if body.get("model") not in MODELS:
        return 404, f"model: {body.get('model')}"
    return None


async def stream(
    state: FakeState, fault: Fault | None, model: str, words: list[str], usage: dict[str, int], stop_reason: str
) -> AsyncIterator[bytes]:
    """The documented event sequence; faults cut it, slow it down, or break it."""
    events = [
        sse("message_start", {"type": "message_start", "message": {
            "id": "msg_fake0001", "type": "message", "role": "assistant", "content": [], "model": model,
            "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": usage["input_tokens"], "output_tokens": 1}}}),
        sse("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        sse("ping", {"type": "ping"}),
    ]  # fmt: skip
    error_after = state.options.get("stream_error_after")
    for index, word in enumerate(words):
        if error_after is not None and index == error_after:
            events.append(
                sse("error", {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
            )
            break
        text = word if index == 0 else f" {word}"
        delta = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}}
        events.append(sse("content_block_delta", delta))
    else:
        events += [
            sse("content_block_stop", {"type": "content_block_stop", "index": 0}),
            sse("message_delta", {"type": "message_delta", "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                                  "usage": {"output_tokens": usage["output_tokens"]}}),
            sse("message_stop", {"type": "message_stop"}),
        ]  # fmt: skip
    if fault and fault.kind == "malformed":
        events.insert(1, b"event: content_block_delta\ndata: {not json\n\n")
    for index, event in enumerate(events):
        if fault and fault.kind == "cut" and index == fault.after_chunks:
            yield event[: len(event) // 2]  # half an event, no blank line: the terminator never comes
            raise CutConnection()
        if fault and fault.kind == "slow" and index:
            await asyncio.sleep(fault.delay)
        yield event

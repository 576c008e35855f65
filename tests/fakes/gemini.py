"""Fake Gemini API: ``POST /v1beta/models/{model}:generateContent``, ``:streamGenerateContent?alt=sse``,
``GET /v1beta/models``.

Speaks reference/providers.md §4.3. Auth and errors are Google's (shared with the Cloud fake): ``x-goog-api-key``
header (or ``?key=``), ``{"error": {"code", "message", "status", "details"}}``, RetryInfo in 429 bodies. The stream
is ``data: <GenerateContentResponse>`` events separated by ``\\r\\n\\r\\n`` (as Google sends them) with no sentinel;
every chunk carries ``usageMetadata`` and the last one ``finishReason``. Token counts come from the input: one token
per whitespace-separated word of the system instruction and contents; the reply is cut at ``maxOutputTokens``.

``state.options``: ``reply`` (answer text), ``thoughts_tokens`` (reported ``thoughtsTokenCount``), ``block_reason``
(answer with ``promptFeedback.blockReason`` and no candidates), ``stream_error_after`` (an error object after that
many chunks), ``end_early`` (close the stream cleanly before the chunk with ``finishReason``). Faults: "cut" drops the connection after ``after_chunks`` events, inside the next; "slow" pauses
``delay`` between events; "malformed" sends a body that is not the documented shape.
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

from tests.fakes.google import check_key, cut_body, error_response, fault_response, google_error, read_json
from tests.fakes.harness import CutConnection, FakeState, Fault

API_KEY = "test-gemini-key"
MODELS = ("gemini-2.5-flash", "gemini-2.5-pro", "gemini-2.5-flash-lite")
DEFAULT_REPLY = "Hello from Gemini, how can I help?"
FINISH_BY_LIMIT = {True: "MAX_TOKENS", False: "STOP"}


def words_of(content: Any) -> list[str]:
    parts = (content or {}).get("parts") or []
    return " ".join(str(p.get("text", "")) for p in parts).split()


def usage(prompt_tokens: int, output_tokens: int, thoughts: int) -> dict[str, int]:
    out = {"promptTokenCount": prompt_tokens, "candidatesTokenCount": output_tokens}
    if thoughts:
        out["thoughtsTokenCount"] = thoughts
    out["totalTokenCount"] = prompt_tokens + output_tokens + thoughts
    return out


def response_body(model: str, text: str, finish: str | None, usage_metadata: dict[str, int]) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": [{"text": text}]}, "index": 0}
    if finish:
        candidate["finishReason"] = finish
    return {"candidates": [candidate], "usageMetadata": usage_metadata, "modelVersion": model, "responseId": "fake1"}


def create_app(state: FakeState) -> Starlette:
    async def model_method(request: Request) -> Response:
        await state.record(request)
        if (denied := check_key(request, API_KEY)) is not None:
            return denied
        fault = await state.before_response()
        if fault and fault.kind == "status":
            return fault_response(fault, state)
        model, _, method = request.path_params["target"].partition(":")
        if method not in ("generateContent", "streamGenerateContent"):
            return error_response(404, f"Method {method!r} not found.")
        if model not in MODELS:
            return error_response(404, f"models/{model} is not found for API version v1beta.")
        body = await read_json(request)
        if not isinstance(body, dict) or not body.get("contents"):
            return error_response(400, "* GenerateContentRequest.contents: contents is not specified")
        roles = {c.get("role", "user") for c in body["contents"]}
        if not roles <= {"user", "model"}:
            return error_response(400, "Please use a valid role: user, model.")
        if (reason := state.options.get("block_reason")) is not None:
            prompt = sum(len(words_of(c)) for c in body["contents"])
            blocked = {"promptFeedback": {"blockReason": reason}, "usageMetadata": usage(prompt, 0, 0)}
            if method == "streamGenerateContent":
                return StreamingResponse(paced([sse(blocked)], None), media_type="text/event-stream")
            return JSONResponse(blocked)
        prompt_tokens = len(words_of(body.get("systemInstruction"))) + sum(len(words_of(c)) for c in body["contents"])
        limit = (body.get("generationConfig") or {}).get("maxOutputTokens")
        words = str(state.options.get("reply", DEFAULT_REPLY)).split()
        finish = FINISH_BY_LIMIT[limit is not None and len(words) > limit]
        words = words[:limit] if limit is not None else words
        thoughts = int(state.options.get("thoughts_tokens", 0))
        if method == "streamGenerateContent":
            if request.query_params.get("alt") != "sse":  # without alt=sse Google streams one JSON array instead
                return error_response(400, "this fake only speaks alt=sse")
            events = stream_events(state, model, words, finish, prompt_tokens, thoughts)
            return StreamingResponse(paced(events, fault), media_type="text/event-stream")
        if fault and fault.kind == "malformed":
            return JSONResponse({"candidates": "not a list"})
        payload = json.dumps(response_body(model, " ".join(words), finish, usage(prompt_tokens, len(words), thoughts)))
        if fault and fault.kind == "cut":
            return cut_body(payload.encode(), fault.after_chunks)
        return Response(payload, media_type="application/json")

    async def list_models(request: Request) -> Response:
        await state.record(request)
        if (denied := check_key(request, API_KEY)) is not None:
            return denied
        fault = await state.before_response()
        if fault and fault.kind == "status":
            return fault_response(fault, state)
        if fault and fault.kind == "malformed":
            return Response("<html>oops</html>", media_type="text/html")
        models = [{"name": f"models/{m}", "displayName": m, "supportedGenerationMethods": ["generateContent"]}
                  for m in MODELS]  # fmt: skip
        return JSONResponse({"models": models})

    return Starlette(
        routes=[
            Route("/v1beta/models", list_models, methods=["GET"]),
            Route("/v1beta/models/{target}", model_method, methods=["POST"]),
        ]
    )


def stream_events(
    state: FakeState, model: str, words: list[str], finish: str, prompt_tokens: int, thoughts: int
) -> list[bytes]:
    """One event per word or two; usage grows with each chunk and is final in the last one."""
    events: list[bytes] = []
    pieces = [" ".join(words[i : i + 2]) + " " for i in range(0, len(words), 2)] or [""]
    pieces[-1] = pieces[-1].rstrip()
    sent = 0
    error_after = state.options.get("stream_error_after")
    for index, piece in enumerate(pieces):
        if error_after is not None and index == error_after:
            events.append(sse(google_error(503, "The model is overloaded. Please try again later.")))
            return events
        sent += len(piece.split())
        last = index == len(pieces) - 1
        body = response_body(model, piece, finish if last else None, usage(prompt_tokens, sent, thoughts))
        events.append(sse(body))
    return events[:-1] if state.options.get("end_early") else events


def sse(payload: dict[str, Any]) -> bytes:
    return f"data: {json.dumps(payload)}\r\n\r\n".encode()


async def paced(events: list[bytes], fault: Fault | None) -> AsyncIterator[bytes]:
    if fault and fault.kind == "malformed":
        events = [b"data: {this is not json\r\n\r\n", *events]
    for index, event in enumerate(events):
        if fault and fault.kind == "cut" and index == fault.after_chunks:
            yield event[: len(event) // 2]
            raise CutConnection()
        if fault and fault.kind == "slow" and index:
            await asyncio.sleep(fault.delay)
        yield event

"""A fake Cloudflare AI Gateway in front of Workers AI: ``POST /{account}/{gateway}/workers-ai/{model_id}``.

Speaks reference/providers.md §7.1: ``Authorization: Bearer <token>`` (token ``test-workers_ai-key``), and, when a
test sets ``state.options["aig_token"]``, an authenticated gateway that also wants ``cf-aig-authorization: Bearer
<token>`` (the bare token is accepted too, as the realtime docs send it). JSON answers come in the Cloudflare
envelope; errors are ``{"success": false, "errors": [{"code", "message"}]}`` with Workers AI's documented codes.

Models: Aura (``@cf/deepgram/aura-1``, ``aura-2-en``) → binary audio per encoding/container, streamed in chunks;
``@cf/openai/whisper`` (raw audio body) → text + words spread over the first 90 % of the measured WAV/MP3 (speech
ends before the audio does, like the real thing); ``@cf/deepgram/nova-3`` (raw audio body + query options) →
Deepgram-shaped result with ``metadata.duration``; Llama models → ``{"response", "usage"}`` or SSE with a final
usage event and ``[DONE]``.

``state.options``: ``aig_token``; ``transcript``; ``completion``; ``duration`` (overrides the measured audio length);
``omit_duration`` (nova-3 without metadata); ``omit_usage`` (Llama without usage); ``seconds`` (TTS audio length).
"""

from __future__ import annotations

import asyncio
import json
import struct
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.fakes.audio import MP3_FRAME_BYTES, MP3_FRAME_SECONDS, audio_for_format
from tests.fakes.harness import CutConnection, FakeState, Fault

API_KEY = "test-workers_ai-key"
DEFAULT_TRANSCRIPT = "hello from the fake workers ai"
DEFAULT_COMPLETION = "Hello from the fake Workers AI gateway."
STREAM_CHUNKS = 4

AURA_SPEAKERS = {
    "@cf/deepgram/aura-1": ("angus", {"angus", "asteria", "arcas", "orion", "orpheus", "athena", "luna", "zeus",
                                      "perseus", "helios", "hera", "stella"}),
    "@cf/deepgram/aura-2-en": ("luna", {"amalthea", "andromeda", "apollo", "arcas", "aries", "asteria", "athena",
                                        "luna", "orion", "thalia", "zeus", "helena", "hera", "hermes", "orpheus"}),
}  # fmt: skip
LLAMA_MODELS = {"@cf/meta/llama-3.1-8b-instruct", "@cf/meta/llama-3.1-8b-instruct-fp8-fast"}
LINEAR16_RATES = {8000, 16000, 24000, 32000, 48000}

# Workers AI error codes per status (developers.cloudflare.com/workers-ai/platform/errors/; 10000 is the
# Cloudflare API's authentication error; 2009 the gateway's [UNCONF]).
ERRORS: dict[int, tuple[int, str]] = {
    400: (3003, "Request is missing headers or body"),
    401: (10000, "Authentication error"),
    403: (3023, "Service unavailable for account"),
    404: (3042, "The model name is invalid"),
    408: (3007, "Request timeout"),
    413: (3006, "Request is too large"),
    429: (3040, "No more data centers to forward the request to"),
    500: (3043, "Internal server error"),
    502: (3043, "Bad gateway"),
    503: (3043, "Service unavailable"),
}


def envelope(result: Any) -> dict[str, Any]:
    return {"result": result, "success": True, "errors": [], "messages": []}


def error(status: int, code: int | None = None, message: str | None = None, retry_after: str | None = None):
    default_code, default_message = ERRORS.get(status, ERRORS[500])
    body = {
        "result": None,
        "success": False,
        "errors": [{"code": code or default_code, "message": message or default_message}],
        "messages": [],
    }
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return JSONResponse(body, status_code=status, headers=headers)


def fault_response(fault: Fault) -> Response:
    if isinstance(fault.body, dict):  # a specific envelope, e.g. the 3036 "Account limited" 429
        headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
        return JSONResponse(fault.body, status_code=fault.status, headers=headers)
    return error(fault.status, retry_after=fault.retry_after)


def chunks_of(data: bytes, count: int = STREAM_CHUNKS) -> list[bytes]:
    size = max(1, -(-len(data) // count))
    return [data[i : i + size] for i in range(0, len(data), size)]


def streamed(parts: list[bytes], media_type: str, fault: Fault | None) -> StreamingResponse:
    """A chunked body; ``cut`` drops the connection after ``after_chunks`` chunks, ``slow`` pauses between them."""

    async def body() -> AsyncIterator[bytes]:
        for index, part in enumerate(parts):
            if fault is not None and fault.kind == "cut" and index >= fault.after_chunks:
                raise CutConnection()
            if index and fault is not None and fault.kind == "slow" and fault.delay:
                await asyncio.sleep(fault.delay)
            yield part
        if fault is not None and fault.kind == "cut":
            raise CutConnection()

    return StreamingResponse(body(), media_type=media_type)


def json_answer(result: Any, fault: Fault | None) -> Response:
    raw = json.dumps(envelope(result)).encode()
    if fault is not None and fault.kind == "malformed":
        return Response(raw[: len(raw) // 2], media_type="application/json")
    if fault is not None and fault.kind == "cut":
        return streamed(chunks_of(raw), "application/json", fault)
    return Response(raw, media_type="application/json")


def authorized(request: Request, state: FakeState) -> Response | None:
    if request.headers.get("authorization", "") != f"Bearer {API_KEY}":
        return error(401)
    gateway_token = state.options.get("aig_token")
    accepted = (f"Bearer {gateway_token}", gateway_token)
    if gateway_token and request.headers.get("cf-aig-authorization", "") not in accepted:
        return error(401, 2009, "Unauthorized")
    return None


def measure_seconds(audio: bytes) -> float | None:
    """Duration of a canonical RIFF/WAVE body or of the fake MP3 frames; None if it is neither."""
    if audio[:4] == b"RIFF" and audio[8:12] == b"WAVE" and audio[36:40] == b"data":
        byte_rate = struct.unpack("<I", audio[28:32])[0]
        return min(struct.unpack("<I", audio[40:44])[0], len(audio) - 44) / byte_rate if byte_rate else None
    if len(audio) >= MP3_FRAME_BYTES and audio[0] == 0xFF and audio[1] & 0xE0 == 0xE0:
        return (len(audio) // MP3_FRAME_BYTES) * MP3_FRAME_SECONDS
    return None


def spoken_words(transcript: str, duration: float) -> list[dict[str, Any]]:
    """Words spread over the first 90 % of the audio: speech ends before the recording does."""
    tokens = transcript.split()
    span = duration * 0.9 / max(1, len(tokens))
    return [
        {"word": token, "start": round(i * span, 3), "end": round((i + 1) * span, 3)} for i, token in enumerate(tokens)
    ]


# -- models ----------------------------------------------------------------------------------------------------
async def aura(model: str, request: Request, state: FakeState, fault: Fault | None) -> Response:
    try:
        inputs = json.loads(await request.body())
    except ValueError:
        return error(400, 5006, "Error: invalid JSON input")
    default_speaker, speakers = AURA_SPEAKERS[model]
    if not isinstance(inputs, dict) or not isinstance(inputs.get("text"), str) or not inputs["text"]:
        return error(400, 5006, "Error: required properties at '/' are 'text'")
    if inputs.get("speaker", default_speaker) not in speakers:
        return error(400, 5006, "Error: must be equal to one of the allowed values at '/speaker'")
    seconds = float(state.options.get("seconds", 0.06 * len(inputs["text"])))
    encoding, container = inputs.get("encoding", "mp3"), inputs.get("container")
    rate = int(inputs.get("sample_rate", 24000))
    if encoding == "mp3" and container in (None, "none"):
        audio, media_type = audio_for_format("mp3", seconds), "audio/mpeg"
    elif encoding == "opus" and container in (None, "ogg"):
        audio, media_type = audio_for_format("opus", seconds), "audio/ogg"
    elif encoding == "linear16" and rate in LINEAR16_RATES and container in ("wav", "none", None):
        fmt = "wav" if container == "wav" else "pcm"
        audio, media_type = audio_for_format(fmt, seconds, rate), "audio/wav" if fmt == "wav" else "audio/pcm"
    else:
        return error(400, 5006, f"Error: unsupported encoding/container {encoding}/{container}")
    if fault is not None and fault.kind == "malformed":
        return Response(b'{"result": {"audio": ', media_type="application/json")
    return streamed(chunks_of(audio), media_type, fault)


def transcription_seconds(audio: bytes, state: FakeState) -> float | None:
    if "duration" in state.options:
        return float(state.options["duration"])
    return measure_seconds(audio)


async def whisper(request: Request, body: bytes, state: FakeState, fault: Fault | None) -> Response:
    if not body:
        return error(400)
    seconds = transcription_seconds(body, state)
    if seconds is None:
        return error(400, 5006, "Error: audio could not be decoded")
    text = state.options.get("transcript", DEFAULT_TRANSCRIPT)
    words = spoken_words(text, seconds)
    vtt = "WEBVTT\n\n" + "\n\n".join(f"00:00:{w['start']:06.3f} --> 00:00:{w['end']:06.3f}\n{w['word']}" for w in words)
    return json_answer({"text": text, "word_count": len(words), "words": words, "vtt": vtt}, fault)


async def nova(request: Request, body: bytes, state: FakeState, fault: Fault | None) -> Response:
    if not body or not request.headers.get("content-type", "").startswith("audio/"):
        return error(400, 5006, "Error: required properties at '/audio' are 'body,contentType'")
    seconds = transcription_seconds(body, state)
    if seconds is None:
        return error(400, 5006, "Error: audio could not be decoded")
    params = request.query_params
    punctuate = params.get("punctuate") == "true" or params.get("smart_format") == "true"
    text = state.options.get("transcript", DEFAULT_TRANSCRIPT)
    words = []
    for index, word in enumerate(spoken_words(text, seconds)):
        word["confidence"] = 0.97
        if punctuate:
            word["punctuated_word"] = word["word"].capitalize() if index == 0 else word["word"]
        if params.get("diarize") == "true":
            word["speaker"] = 0
        words.append(word)
    transcript = " ".join(w.get("punctuated_word", w["word"]) for w in words)
    result: dict[str, Any] = {
        "results": {"channels": [{"alternatives": [{"transcript": transcript, "confidence": 0.97, "words": words}]}]}
    }
    if not state.options.get("omit_duration"):
        result["metadata"] = {"duration": seconds, "channels": 1}
    return json_answer(result, fault)


def sse(event: dict[str, Any] | str) -> bytes:
    return f"data: {event if isinstance(event, str) else json.dumps(event)}\n\n".encode()


async def llama(request: Request, state: FakeState, fault: Fault | None) -> Response:
    try:
        inputs = json.loads(await request.body())
    except ValueError:
        return error(400, 5006, "Error: invalid JSON input")
    messages = inputs.get("messages") if isinstance(inputs, dict) else None
    if not isinstance(messages, list) or not messages:
        return error(400, 5006, "Error: required properties at '/' are 'messages'")
    words = state.options.get("completion", DEFAULT_COMPLETION).split()
    words = words[: int(inputs.get("max_tokens", 256))]
    usage = {
        "prompt_tokens": sum(len(str(m.get("content", "")).split()) for m in messages) + 3 * len(messages),
        "completion_tokens": len(words),
    }
    usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
    if not inputs.get("stream"):
        result: dict[str, Any] = {"response": " ".join(words), "tool_calls": []}
        if not state.options.get("omit_usage"):
            result["usage"] = usage
        return json_answer(result, fault)
    events = [sse({"response": (" " if i else "") + word, "p": "abcdef"[: i % 6]}) for i, word in enumerate(words)]
    if fault is not None and fault.kind == "malformed":
        events.insert(1, b'data: {"response": "brok\n\n')
    if not state.options.get("omit_usage"):
        events.append(sse({"response": "", "usage": usage}))
    events.append(sse("[DONE]"))
    return streamed(events, "text/event-stream", fault)


def create_app(state: FakeState) -> Starlette:
    async def run_model(request: Request) -> Response:
        model = request.path_params["model"]
        body = await state.record(request)
        denied = authorized(request, state)
        if denied is not None:
            return denied
        fault = await state.before_response()
        if fault is not None and fault.kind == "status":
            return fault_response(fault)
        if model in AURA_SPEAKERS:
            return await aura(model, request, state, fault)
        if model == "@cf/openai/whisper":
            return await whisper(request, body, state, fault)
        if model == "@cf/deepgram/nova-3":
            return await nova(request, body, state, fault)
        if model in LLAMA_MODELS:
            return await llama(request, state, fault)
        return error(400, 5007, f"No such model {model} or task")

    return Starlette(routes=[Route("/{account}/{gateway}/workers-ai/{model:path}", run_model, methods=["POST"])])

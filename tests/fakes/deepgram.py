"""A fake Deepgram REST API: ``POST /v1/speak`` (Aura), ``POST /v1/listen`` (pre-recorded), ``GET /v1/projects``.

Speaks reference/providers.md §2: ``Authorization: Token <key>`` (key ``test-deepgram-key``), legacy
``err_code/err_msg``, modern ``category/message/details`` and the 503 ``error_code`` error bodies, real audio per
encoding/container streamed in several chunks with ``dg-char-count``/``dg-request-id`` headers, and transcripts whose
``metadata.duration`` is measured from the WAV (or MP3 frames) actually received.

``state.options``: ``transcript`` (str), ``duration`` (float, overrides the measurement), ``char_count`` (int,
overrides ``dg-char-count``), ``seconds`` (float, length of synthesized audio), ``chunk_delay`` (float: a stall
between body chunks only, unlike ``Fault("slow")`` which also delays the headers).
"""

from __future__ import annotations

import json
import struct
import uuid
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.audio import MP3_FRAME_BYTES, MP3_FRAME_SECONDS, audio_for_format
from tests.fakes.chunked import chunks_of, streamed
from tests.fakes.harness import FakeState, Fault

API_KEY = "test-deepgram-key"
DEFAULT_TRANSCRIPT = "hello from the fake deepgram"
MAX_CHARACTERS = 2000
LINEAR16_RATES = {8000, 16000, 24000, 32000, 48000}

# Published Aura voices (Aura-1 English; Aura-2 per language); any other model is "No such model/version".
_AURA2 = {
    "en": "amalthea andromeda apollo arcas aries asteria athena atlas aurora callista cora cordelia delia draco electra "
    "harmonia helena hera hermes hyperion iris janus juno jupiter luna mars minerva neptune odysseus ophelia orion "
    "orpheus pandora phoebe pluto saturn selene thalia theia vesta zeus",
    "es": "celeste estrella nestor sirio carina alvaro diana aquila selena javier",
    "de": "julius viktoria elara fabian",
    "fr": "agathe hector",
    "it": "livia dionisio melia cesare",
    "nl": "rhea sander beatrix",
    "ja": "izanami fujin",
}
_AURA1 = "asteria luna stella athena hera orion arcas perseus angus orpheus helios zeus"
MODELS = frozenset(
    [f"aura-2-{voice}-{lang}" for lang, voices in _AURA2.items() for voice in voices.split()]
    + [f"aura-{voice}-en" for voice in _AURA1.split()]
)

# Deepgram error bodies by status, in the shape the vendor uses for each (legacy, modern, or the 503 variant).
ERRORS: dict[int, dict[str, str]] = {
    400: {"err_code": "Bad Request", "err_msg": "corrupt or unsupported data"},
    401: {"err_code": "INVALID_AUTH", "err_msg": "Invalid credentials."},
    402: {"err_code": "ASR_PAYMENT_REQUIRED", "err_msg": "Project does not have enough credits for an ASR request."},
    403: {"err_code": "INSUFFICIENT_PERMISSIONS", "err_msg": "Project does not have access to the requested model."},
    404: {"category": "NOT_FOUND", "message": "Not found.", "details": "No such route."},
    413: {"err_code": "PAYLOAD_TOO_LARGE", "err_msg": "Payload too large."},
    415: {"err_code": "UNSUPPORTED_MEDIA_TYPE", "err_msg": "Content-Type must be application/json or text/plain."},
    429: {"err_code": "TOO_MANY_REQUESTS", "err_msg": "Too many requests. Please try again later"},
    500: {"category": "INTERNAL_SERVER_ERROR", "message": "Internal server error.", "details": "Please retry."},
    503: {"error_code": "Service Unavailable", "message": "The service is temporarily unavailable."},
}


def error(status: int, body: dict[str, Any] | None = None, retry_after: str | None = None) -> JSONResponse:
    payload = dict(body if body is not None else ERRORS.get(status, ERRORS[500]))
    payload.setdefault("request_id", str(uuid.uuid4()))
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return JSONResponse(payload, status_code=status, headers=headers)


def fault_response(fault: Fault) -> JSONResponse:
    return error(fault.status, fault.body, fault.retry_after)


def malformed_json() -> Response:
    return Response(b'{"metadata": {"request_id": ', media_type="application/json")


def authorized(request: Request) -> bool:
    return request.headers.get("authorization", "") == f"Token {API_KEY}"


def measure_seconds(audio: bytes) -> float | None:
    """Duration of a RIFF/WAVE body (from its fmt/data chunks) or of the fake's MP3 frames; None if not audio."""
    if audio[:4] == b"RIFF" and audio[8:12] == b"WAVE":
        offset, byte_rate = 12, 0
        while offset + 8 <= len(audio):
            chunk_id, size = audio[offset : offset + 4], struct.unpack("<I", audio[offset + 4 : offset + 8])[0]
            if chunk_id == b"fmt " and size >= 16:
                byte_rate = struct.unpack("<I", audio[offset + 16 : offset + 20])[0]
            elif chunk_id == b"data" and byte_rate:
                return min(size, len(audio) - offset - 8) / byte_rate
            offset += 8 + size + (size & 1)
        return None
    if len(audio) >= MP3_FRAME_BYTES and audio[0] == 0xFF and audio[1] & 0xE0 == 0xE0:
        return (len(audio) // MP3_FRAME_BYTES) * MP3_FRAME_SECONDS
    return None


def speak_audio(params: dict[str, str], seconds: float) -> tuple[bytes, str] | None:
    """Audio and content type for encoding/container/sample_rate, or None for a combination Deepgram rejects."""
    encoding = params.get("encoding", "mp3")
    container = params.get("container")
    if encoding == "mp3" and container in (None, "none") and "sample_rate" not in params:
        return audio_for_format("mp3", seconds), "audio/mpeg"
    if encoding == "opus" and container in (None, "ogg"):
        return audio_for_format("opus", seconds), "audio/ogg"
    if encoding == "linear16":
        rate = int(params.get("sample_rate", "24000"))
        if rate not in LINEAR16_RATES:
            return None
        if container == "wav":
            return audio_for_format("wav", seconds, rate), "audio/wav"
        if container in (None, "none"):
            return audio_for_format("pcm", seconds, rate), "application/octet-stream"
    return None


def listen_body(transcript: str, duration: float, params: dict[str, str]) -> dict[str, Any]:
    punctuate = params.get("punctuate") == "true" or params.get("smart_format") == "true"
    diarize = params.get("diarize") == "true"
    tokens = transcript.split()
    span = duration / max(1, len(tokens))
    words = []
    for index, token in enumerate(tokens):
        word: dict[str, Any] = {
            "word": token.lower(),
            "start": round(index * span, 3),
            "end": round((index + 1) * span * 0.95, 3),
            "confidence": 0.98,
        }
        if punctuate:
            shown = token.capitalize() if index == 0 else token
            word["punctuated_word"] = shown + ("." if index == len(tokens) - 1 else "")
        if diarize:
            word["speaker"] = 0 if index < len(tokens) / 2 else 1
        words.append(word)
    text = " ".join(w.get("punctuated_word", w["word"]) for w in words)
    return {
        "metadata": {
            "request_id": str(uuid.uuid4()),
            "created": "2026-01-01T00:00:00Z",
            "duration": duration,
            "channels": 1,
            "models": ["00000000-fake-nova"],
            "model_info": {"00000000-fake-nova": {"name": params.get("model", "nova-3"), "arch": "nova-3"}},
        },
        "results": {"channels": [{"alternatives": [{"transcript": text, "confidence": 0.97, "words": words}]}]},
    }


def create_app(state: FakeState) -> Starlette:
    async def speak(request: Request) -> Response:
        raw = await state.record(request)
        fault = await state.before_response()
        if fault is not None and fault.kind == "status":
            return fault_response(fault)
        if not authorized(request):
            return error(401)
        content_type = request.headers.get("content-type", "").split(";")[0].strip()
        if content_type == "application/json":
            try:
                text = json.loads(raw)["text"]
            except (ValueError, KeyError, TypeError):
                return error(400, {"err_code": "PAYLOAD_ERROR", "err_msg": "Invalid JSON submitted."})
        elif content_type == "text/plain":
            text = raw.decode("utf-8", "replace")
        else:
            return error(415)
        if not isinstance(text, str) or not text:
            return error(400, {"err_code": "PAYLOAD_ERROR", "err_msg": "Text is required."})
        if len(text) > MAX_CHARACTERS:
            return error(413, {"err_code": "Payload Too Large", "err_msg": "exceeds maximum character limit of 2000"})
        params = dict(request.query_params)
        model = params.get("model", "aura-asteria-en")
        if model not in MODELS:
            return error(400, {"err_code": "Bad Request", "err_msg": "No such model/version combination found."})
        seconds = float(state.options.get("seconds", min(5.0, max(0.3, len(text) * 0.05))))
        produced = speak_audio(params, seconds)
        if produced is None:
            return error(400, {"err_code": "INVALID_QUERY_PARAMETER", "err_msg": "Unsupported encoding/container."})
        if fault is not None and fault.kind == "malformed":
            return malformed_json()
        audio, media_type = produced
        headers = {
            "dg-request-id": str(uuid.uuid4()),
            "dg-model-name": model,
            "dg-char-count": str(state.options.get("char_count", len(text))),
        }
        return streamed(chunks_of(audio), media_type, headers, fault, float(state.options.get("chunk_delay", 0.0)))

    async def listen(request: Request) -> Response:
        audio = await state.record(request)
        fault = await state.before_response()
        if fault is not None and fault.kind == "status":
            return fault_response(fault)
        if not authorized(request):
            return error(401)
        measured = measure_seconds(audio)
        if measured is None:
            return error(400)  # "corrupt or unsupported data"
        if fault is not None and fault.kind == "malformed":
            return malformed_json()
        duration = float(state.options.get("duration", measured))
        transcript = str(state.options.get("transcript", DEFAULT_TRANSCRIPT))
        payload = json.dumps(listen_body(transcript, duration, dict(request.query_params))).encode()
        return streamed(chunks_of(payload), "application/json", {"dg-request-id": str(uuid.uuid4())}, fault)

    async def projects(request: Request) -> Response:
        await state.record(request)
        fault = await state.before_response()
        if fault is not None and fault.kind == "status":
            return fault_response(fault)
        if not authorized(request):
            return error(401)
        if fault is not None and fault.kind == "malformed":
            return malformed_json()
        return JSONResponse({"projects": [{"project_id": "00000000-fake-project", "name": "fake"}]})

    return Starlette(
        routes=[
            Route("/v1/speak", speak, methods=["POST"]),
            Route("/v1/listen", listen, methods=["POST"]),
            Route("/v1/projects", projects, methods=["GET"]),
        ]
    )

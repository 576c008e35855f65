"""A fake ElevenLabs API: ``POST /v1/text-to-speech/{voice_id}[/stream]``, ``POST /v1/speech-to-text`` (multipart),
``GET /v1/models`` and ``GET /v1/user``.

Speaks reference/providers.md §3: ``xi-api-key`` auth (key ``test-elevenlabs-key``), ``{"detail": {"status",
"message"}}`` errors and 422 ``{"detail": [...]}`` validation lists, real audio per ``output_format`` with
``request-id`` and ``character-cost`` headers, and Scribe transcripts whose ``audio_duration_secs`` is measured from
the uploaded file.

``state.options``: ``transcript`` (str), ``duration`` (float, overrides the measurement), ``omit_duration`` (bool),
``audio_event`` (str, appended as an ``audio_event`` token), ``character_cost`` (int), ``seconds`` (float, length of
synthesized audio), ``chunk_delay`` (float, a stall between body chunks only).
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.audio import audio_for_format
from tests.fakes.chunked import chunks_of, streamed
from tests.fakes.deepgram import measure_seconds
from tests.fakes.harness import FakeState, Fault

API_KEY = "test-elevenlabs-key"
DEFAULT_TRANSCRIPT = "hello from the fake elevenlabs"
VOICES = frozenset({"21m00Tcm4TlvDq8ikWAM", "pNInz6obpgDQGcFmaJgB", "EXAVITQu4vr4xnSDxMaL", "ErXwobaYiN019PkySvjV"})
CHARACTER_LIMITS = {"eleven_flash_v2_5": 40000, "eleven_turbo_v2_5": 40000}  # others: 10,000
LANGUAGE_CODE_MODELS = {"eleven_flash_v2_5", "eleven_turbo_v2_5", "eleven_v3"}
STT_MODELS = {"scribe_v1", "scribe_v2"}
PCM_RATES = {8000, 16000, 22050, 24000, 32000, 44100, 48000}
OUTPUT_FORMAT = re.compile(r"^(mp3|pcm|wav|opus)_(\d+)(?:_(\d+))?$")
MEDIA_TYPES = {"mp3": "audio/mpeg", "pcm": "application/octet-stream", "wav": "audio/wav", "opus": "audio/ogg"}


def detail(code: str, message: str) -> dict[str, Any]:
    return {"detail": {"status": code, "message": message}}


def validation(loc: list[str], msg: str) -> dict[str, Any]:
    return {"detail": [{"loc": loc, "msg": msg, "type": "value_error"}]}


ERRORS: dict[int, dict[str, Any]] = {
    400: detail("max_character_limit_exceeded", "Text exceeds the model's character limit."),
    401: detail("invalid_api_key", "Invalid API key"),
    404: detail("voice_not_found", "A voice with that voice_id was not found."),
    422: validation(["body", "text"], "field required"),
    429: detail("too_many_concurrent_requests", "Too many concurrent requests for your subscription."),
    500: detail("internal_server_error", "An internal error occurred."),
    503: detail("system_busy", "The system is experiencing heavy traffic, please try again."),
}


def error(status: int, body: dict[str, Any] | None = None, retry_after: str | None = None) -> JSONResponse:
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return JSONResponse(body if body is not None else ERRORS.get(status, ERRORS[500]), status, headers=headers)


def rejected(fault: Fault | None, request: Request) -> Response | None:
    """The response for a status fault or a bad key, else None."""
    if fault is not None and fault.kind == "status":
        return error(fault.status, fault.body, fault.retry_after)
    if request.headers.get("xi-api-key") != API_KEY:
        return error(401)
    return None


def malformed_json() -> Response:
    return Response(b'{"detail": {"status": "ok", ', media_type="application/json")


def parse_output_format(value: str) -> tuple[str, int] | None:
    match = OUTPUT_FORMAT.match(value)
    if not match:
        return None
    kind, rate = match.group(1), int(match.group(2))
    valid = (
        (
            kind == "mp3"
            and f"{rate}_{match.group(3)}"
            in {"22050_32", "24000_48", "44100_32", "44100_64", "44100_96", "44100_128", "44100_192"}
        )
        or (kind in ("pcm", "wav") and rate in PCM_RATES and match.group(3) is None)
        or (kind == "opus" and rate == 48000 and match.group(3) in {"32", "64", "96", "128", "192"})
    )
    return (kind, rate) if valid else None


def parse_multipart(content_type: str, body: bytes) -> dict[str, tuple[str | None, bytes]]:
    """``name → (filename, content)`` for a multipart/form-data body (no third-party parser in this venv)."""
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    if not content_type.startswith("multipart/form-data") or not match:
        return {}
    fields: dict[str, tuple[str | None, bytes]] = {}
    for part in body.split(b"--" + match.group(1).encode())[1:]:
        if part.startswith(b"--"):
            break
        head, _, content = part.partition(b"\r\n\r\n")
        disposition = head.decode("utf-8", "replace")
        name = re.search(r'name="([^"]*)"', disposition)
        filename = re.search(r'filename="([^"]*)"', disposition)
        if name:
            fields[name.group(1)] = (filename.group(1) if filename else None, content.removesuffix(b"\r\n"))
    return fields


def transcript_words(transcript: str, duration: float, diarize: bool, audio_event: str | None) -> list[dict[str, Any]]:
    tokens = transcript.split()
    span = duration / max(1, len(tokens) + (1 if audio_event else 0))
    words: list[dict[str, Any]] = []
    for index, token in enumerate(tokens):
        speaker = f"speaker_{0 if index < len(tokens) / 2 else 1}" if diarize else "speaker_0"
        start, end = round(index * span, 3), round((index + 0.9) * span, 3)
        if index:
            words.append(
                {"text": " ", "start": start - 0.05 * span, "end": start, "type": "spacing", "speaker_id": speaker}
            )
        words.append(
            {"text": token, "start": start, "end": end, "type": "word", "speaker_id": speaker, "logprob": -0.05}
        )
    if audio_event:
        start = len(tokens) * span
        words.append(
            {"text": audio_event, "start": start, "end": duration, "type": "audio_event", "speaker_id": "speaker_0"}
        )
    return words


def create_app(state: FakeState) -> Starlette:
    async def speech(request: Request) -> Response:
        raw = await state.record(request)
        fault = await state.before_response()
        if (refusal := rejected(fault, request)) is not None:
            return refusal
        if request.path_params["voice_id"] not in VOICES:
            return error(
                400,
                detail("voice_not_found", f"A voice with voice_id {request.path_params['voice_id']} was not found."),
            )
        try:
            body = json.loads(raw)
            text, model = body["text"], body.get("model_id", "eleven_multilingual_v2")
        except (ValueError, KeyError, TypeError):
            return error(422, validation(["body", "text"], "field required"))
        if not isinstance(text, str) or not isinstance(model, str):
            return error(422, validation(["body", "text"], "str type expected"))
        if "language_code" in body and model not in LANGUAGE_CODE_MODELS:
            return error(400, detail("unsupported_language", f"Model {model} does not support language_code."))
        if len(text) > CHARACTER_LIMITS.get(model, 10000):
            return error(400)  # max_character_limit_exceeded
        output = parse_output_format(request.query_params.get("output_format", "mp3_44100_128"))
        if output is None:
            return error(422, validation(["query", "output_format"], "unsupported output format"))
        if fault is not None and fault.kind == "malformed":
            return malformed_json()
        kind, rate = output
        seconds = float(state.options.get("seconds", min(5.0, max(0.3, len(text) * 0.05))))
        audio = audio_for_format(kind, seconds, rate)
        headers = {
            "request-id": uuid.uuid4().hex,
            "character-cost": str(state.options.get("character_cost", len(text))),
        }
        chunk_delay = float(state.options.get("chunk_delay", 0.0))
        if request.url.path.endswith("/stream") or fault is not None or chunk_delay:
            return streamed(chunks_of(audio), MEDIA_TYPES[kind], headers, fault, chunk_delay)
        return Response(audio, media_type=MEDIA_TYPES[kind], headers=headers)

    async def speech_to_text(request: Request) -> Response:
        raw = await state.record(request)
        fault = await state.before_response()
        if (refusal := rejected(fault, request)) is not None:
            return refusal
        form = parse_multipart(request.headers.get("content-type", ""), raw)
        model = (form.get("model_id") or (None, b""))[1].decode()
        if model not in STT_MODELS:
            return error(422, validation(["body", "model_id"], "model_id must be scribe_v1 or scribe_v2"))
        if "file" not in form or form["file"][0] is None:
            return error(422, validation(["body", "file"], "field required"))
        measured = measure_seconds(form["file"][1])
        if measured is None:
            return error(400, detail("invalid_content", "The uploaded file could not be decoded as audio."))
        if fault is not None and fault.kind == "malformed":
            return malformed_json()
        duration = float(state.options.get("duration", measured))
        diarize = (form.get("diarize") or (None, b"false"))[1] == b"true"
        transcript = str(state.options.get("transcript", DEFAULT_TRANSCRIPT))
        language = (form.get("language_code") or (None, b"en"))[1].decode()
        payload: dict[str, Any] = {
            "language_code": language,
            "language_probability": 0.98,
            "text": transcript,
            "words": transcript_words(transcript, duration, diarize, state.options.get("audio_event")),
            "transcription_id": uuid.uuid4().hex,
        }
        if not state.options.get("omit_duration"):
            payload["audio_duration_secs"] = duration
        return streamed(
            chunks_of(json.dumps(payload).encode()), "application/json", {"request-id": uuid.uuid4().hex}, fault
        )

    async def models(request: Request) -> Response:
        await state.record(request)
        fault = await state.before_response()
        if (refusal := rejected(fault, request)) is not None:
            return refusal
        if fault is not None and fault.kind == "malformed":
            return malformed_json()
        return JSONResponse(
            [{"model_id": m, "can_do_text_to_speech": True} for m in ("eleven_flash_v2_5", "eleven_multilingual_v2")]
        )

    async def user(request: Request) -> Response:
        await state.record(request)
        fault = await state.before_response()
        if (refusal := rejected(fault, request)) is not None:
            return refusal
        return JSONResponse({"subscription": {"tier": "fake", "character_count": 0, "character_limit": 100000}})

    return Starlette(
        routes=[
            Route("/v1/text-to-speech/{voice_id}", speech, methods=["POST"]),
            Route("/v1/text-to-speech/{voice_id}/stream", speech, methods=["POST"]),
            Route("/v1/speech-to-text", speech_to_text, methods=["POST"]),
            Route("/v1/models", models, methods=["GET"]),
            Route("/v1/user", user, methods=["GET"]),
        ]
    )

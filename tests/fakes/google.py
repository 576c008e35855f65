"""Fake Google Cloud Text-to-Speech + Speech-to-Text v1 (REST), one app serving both hosts' paths.

Speaks reference/providers.md §4: ``POST /v1/text:synthesize`` → ``{"audioContent": base64}``,
``POST /v1/speech:recognize`` → ``{"results": [...], "totalBilledTime": "<n>s"}``, ``GET /v1/voices``. Auth is the
``X-Goog-Api-Key`` header (or ``?key=``): missing → 403 PERMISSION_DENIED, wrong → 400 INVALID_ARGUMENT with
ErrorInfo ``API_KEY_INVALID`` (what Google answers for API keys [UNCONF: observed, not in providers.md]).
Errors use ``{"error": {"code", "message", "status", "details"}}``; 429 carries ``RetryInfo.retryDelay``.

``state.options``: ``transcript`` (text to return), ``duration`` (override the measured audio seconds),
``billed_time`` (override ``totalBilledTime``; ``None`` omits it), ``confidence``, ``retry_delay`` (429 body).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import struct
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.fakes.audio import MP3_FRAME_BYTES, MP3_FRAME_SECONDS, audio_for_format, silent_mp3, sine_pcm, wav
from tests.fakes.harness import CutConnection, FakeState, Fault

API_KEY = "test-google-key"
RPC_STATUS = {
    400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
    409: "ABORTED", 429: "RESOURCE_EXHAUSTED", 499: "CANCELLED", 500: "INTERNAL", 501: "UNIMPLEMENTED",
    503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED",
}  # fmt: skip
TTS_ENCODINGS = {"MP3", "LINEAR16", "PCM", "OGG_OPUS", "MULAW", "ALAW"}
SECONDS_PER_CHARACTER = 0.06


# -- shared with the Gemini fake ---------------------------------------------------------------------------------
def google_error(status: int, message: str, details: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": status, "message": message, "status": RPC_STATUS.get(status, "UNKNOWN")}
    if details:
        error["details"] = details
    return {"error": error}


def error_response(
    status: int, message: str, details: list[dict[str, Any]] | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(google_error(status, message, details), status_code=status, headers=headers)


def fault_response(fault: Fault, state: FakeState) -> JSONResponse:
    """Fault("status") in Google's shape; a 429 carries QuotaFailure + RetryInfo like the real API."""
    headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else None
    if fault.body is not None:
        return JSONResponse(fault.body, status_code=fault.status, headers=headers)
    details = None
    if fault.status == 429:
        details = [
            {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [{"subject": "project:fake"}]},
            {
                "@type": "type.googleapis.com/google.rpc.RetryInfo",
                "retryDelay": state.options.get("retry_delay", "30s"),
            },
        ]
    messages = {429: "Quota exceeded for quota metric 'Requests'.", 503: "The service is currently unavailable."}
    message = messages.get(fault.status, f"Fake failure {fault.status}.")
    return error_response(fault.status, message, details, headers)


def check_key(request: Request, expected: str = API_KEY) -> JSONResponse | None:
    key = request.headers.get("x-goog-api-key") or request.query_params.get("key")
    if not key:
        return error_response(403, "The request is missing a valid API key.")
    if key != expected:
        info = {
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "API_KEY_INVALID",
            "domain": "googleapis.com",
        }
        return error_response(400, "API key not valid. Please pass a valid API key.", [info])
    return None


def cut_body(payload: bytes, after_chunks: int, chunk_size: int = 64) -> StreamingResponse:
    """A 200 whose body stops after ``after_chunks`` chunks: the connection drops mid-JSON."""

    async def chunks() -> AsyncIterator[bytes]:
        for index in range(after_chunks):
            yield payload[index * chunk_size : (index + 1) * chunk_size]
        raise CutConnection()

    return StreamingResponse(chunks(), media_type="application/json")


async def read_json(request: Request) -> Any:
    try:
        return json.loads(await request.body())
    except ValueError:
        return None


# -- audio helpers -------------------------------------------------------------------------------------------------
def wav_info(audio: bytes) -> tuple[int, int, float] | None:
    """(sample rate, channels, seconds) of a PCM WAV, for checking the config and billing like Google does."""
    if audio[:4] != b"RIFF" or audio[8:12] != b"WAVE":
        return None
    pos, rate, channels, bits = 12, 0, 1, 16
    while pos + 8 <= len(audio):
        chunk, size = audio[pos : pos + 4], struct.unpack_from("<I", audio, pos + 4)[0]
        if chunk == b"fmt ":
            _, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", audio, pos + 8)
        elif chunk == b"data" and rate:
            data = min(size, len(audio) - pos - 8)
            return rate, channels, data / (rate * channels * bits // 8)
        pos += 8 + size + (size & 1)
    return None


def audio_seconds(audio: bytes, config: dict[str, Any]) -> float:
    info = wav_info(audio)
    if info:
        return info[2]
    if audio[:2] == b"\xff\xfb":  # the silent MP3 frames tests send
        return len(audio) // MP3_FRAME_BYTES * MP3_FRAME_SECONDS
    return len(audio) / (2 * int(config.get("sampleRateHertz") or 16000))


def fmt_seconds(value: float) -> str:
    return f"{value:.3f}s"


# -- routes ----------------------------------------------------------------------------------------------------------
def json_body(payload: bytes, fault: Fault | None) -> Response:
    """A JSON 200, or (``cut`` fault) one whose connection drops mid-body."""
    if fault and fault.kind == "cut":
        return cut_body(payload, fault.after_chunks)
    return Response(payload, media_type="application/json")


def create_app(state: FakeState) -> Starlette:
    async def admit(request: Request) -> tuple[Fault | None, Response | None]:
        """Record the request; then the refusal (wrong key, injected status) or the fault still to apply."""
        await state.record(request)
        if (denied := check_key(request)) is not None:
            return None, denied
        fault = await state.before_response()
        if fault and fault.kind == "status":
            return fault, fault_response(fault, state)
        return fault, None

    async def synthesize(request: Request) -> Response:
        fault, refusal = await admit(request)
        if refusal is not None:
            return refusal
        body = await read_json(request)
        text = ((body or {}).get("input") or {}).get("text")
        voice = (body or {}).get("voice") or {}
        config = (body or {}).get("audioConfig") or {}
        if not isinstance(text, str) or not voice.get("languageCode"):
            return error_response(400, "Invalid JSON payload: input.text and voice.languageCode are required.")
        if len(text.encode("utf-8")) > 5000:
            return error_response(400, "Either `input.text` or `input.ssml` is longer than the limit of 5000 bytes.")
        encoding = config.get("audioEncoding")
        if encoding not in TTS_ENCODINGS:
            return error_response(400, f"Invalid value at 'audio_config.audio_encoding' ({encoding!r}).")
        rate = int(config.get("sampleRateHertz") or 24000)
        seconds = max(0.2, len(text) * SECONDS_PER_CHARACTER / float(config.get("speakingRate") or 1.0))
        if encoding == "MP3":
            audio = silent_mp3(seconds)
        elif encoding == "LINEAR16":
            audio = wav(sine_pcm(seconds, rate), rate)
        elif encoding == "PCM":
            audio = sine_pcm(seconds, rate)
        else:
            audio = audio_for_format("opus", seconds)
        if fault and fault.kind == "malformed":
            return JSONResponse({"audioContent": "%%% not base64 %%%"})
        payload = json.dumps({"audioContent": base64.b64encode(audio).decode()}).encode()
        return json_body(payload, fault)

    async def recognize(request: Request) -> Response:
        fault, refusal = await admit(request)
        if refusal is not None:
            return refusal
        body = await read_json(request)
        config = (body or {}).get("config") or {}
        try:
            audio = base64.b64decode(((body or {}).get("audio") or {}).get("content") or "", validate=True)
        except (binascii.Error, ValueError):
            return error_response(400, "Invalid value at 'audio.content' (TYPE_BYTES), Base64 decoding failed.")
        if not audio or not config.get("languageCode"):
            return error_response(400, "RecognitionConfig.language_code and RecognitionAudio content are required.")
        info = wav_info(audio)
        if info and config.get("sampleRateHertz") not in (None, info[0]):
            return error_response(
                400,
                f"sample_rate_hertz ({config['sampleRateHertz']}) in RecognitionConfig must either be unspecified "
                f"or match the value in the WAV header ({info[0]}).",
            )
        seconds = float(state.options.get("duration", audio_seconds(audio, config)))
        if seconds > 60:
            return error_response(400, "Sync input too long. For audio longer than 1 min use LongRunningRecognize.")
        if fault and fault.kind == "malformed":
            return Response("<html>upstream proxy error</html>", media_type="text/html")
        payload = json.dumps(recognition_response(state, config, seconds)).encode()
        return json_body(payload, fault)

    async def voices(request: Request) -> Response:
        fault, refusal = await admit(request)
        if refusal is not None:
            return refusal
        if fault and fault.kind == "malformed":
            return Response("not json", media_type="text/plain")
        language = request.query_params.get("languageCode", "en-US")
        names = ["Neural2-F", "Neural2-D", "Neural2-C", "Wavenet-A", "Standard-B", "Chirp3-HD-Achernar"]
        return JSONResponse(
            {"voices": [{"languageCodes": [language], "name": f"{language}-{n}", "ssmlGender": "FEMALE",
                         "naturalSampleRateHertz": 24000} for n in names]}
        )  # fmt: skip

    return Starlette(
        routes=[
            Route("/v1/text:synthesize", synthesize, methods=["POST"]),
            Route("/v1/speech:recognize", recognize, methods=["POST"]),
            Route("/v1/voices", voices, methods=["GET"]),
        ]
    )


def recognition_response(state: FakeState, config: dict[str, Any], seconds: float) -> dict[str, Any]:
    transcript = str(state.options.get("transcript", "how old is the Brooklyn Bridge"))
    tokens = transcript.split()
    step = seconds / max(1, len(tokens))
    words = [
        {"startTime": fmt_seconds(i * step), "endTime": fmt_seconds((i + 1) * step), "word": token}
        for i, token in enumerate(tokens)
    ]
    alternative: dict[str, Any] = {"transcript": transcript, "confidence": state.options.get("confidence", 0.92)}
    if config.get("enableWordTimeOffsets"):
        alternative["words"] = words
    response: dict[str, Any] = {
        "results": [
            {
                "alternatives": [alternative],
                "resultEndTime": fmt_seconds(seconds),
                "languageCode": str(config.get("languageCode", "en-US")).lower(),
            }
        ]
        if tokens
        else [],
        "requestId": "7235071837425671168",
    }
    billed = state.options.get("billed_time", f"{math.ceil(seconds)}s")
    if billed is not None:
        response["totalBilledTime"] = billed
    return response

"""A fake OpenAI API on loopback: ``/v1/audio/speech``, ``/v1/audio/transcriptions``, ``/v1/chat/completions``,
``/v1/models``, speaking the wire format of reference/providers.md §1 closely enough for the official ``openai`` SDK.

Point clients at ``f"{server.url}/v1"`` (OPENAI_BASE_URL includes ``/v1``). Accepted key: ``test-openai-key`` (or
``state.options["api_key"]``). Units it reports are computed from the input:

    speech          duration = len(input) × options["seconds_per_char"] (0.06) ÷ speed, or options["speech_seconds"];
                    real MP3/WAV/PCM/Ogg bytes from tests.fakes.audio, sent in options["chunks"] (6) chunks;
                    stream_format=sse (not tts-1*) → base64 deltas + speech.audio.done with token usage
    transcriptions  duration measured from the uploaded WAV (stdlib ``wave``) or the fake's silent MP3 frames,
                    or options["audio_seconds"]; text = options["transcript"]
    chat            reply = options["reply"] or "Echo: <last user message>"; tokens are whitespace-separated words
                    (+3 per message); options["stream_error_after"] = n → an error event after n content chunks
Faults (tests.fakes.harness): status → OpenAI's error body (``fault.body`` overrides it, e.g. INSUFFICIENT_QUOTA),
Retry-After only when ``fault.retry_after`` is set (options["retry_after_ms"] adds ``retry-after-ms``);
malformed → 200 with a broken body; cut → the 200 body drops after ``fault.after_chunks`` chunks; slow → delays.
Streams (speech, SSE) pause options["chunk_delay"] seconds between chunks after prompt headers: a stalled body.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import math
import re
import wave
from collections.abc import AsyncIterator, Iterable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.fakes.audio import MP3_FRAME_BYTES, MP3_FRAME_SECONDS, audio_for_format
from tests.fakes.harness import CutConnection, FakeState, Fault

API_KEY = "test-openai-key"
DEFAULT_TRANSCRIPT = "hello from the fake openai"
CREATED = 1741569952  # fixed timestamps keep responses deterministic

SPEECH_MODELS = ("tts-1", "tts-1-hd", "gpt-4o-mini-tts", "gpt-4o-mini-tts-2025-12-15")
TRANSCRIBE_MODELS = ("whisper-1", "gpt-4o-transcribe", "gpt-4o-mini-transcribe", "gpt-4o-mini-transcribe-2025-12-15")
CHAT_MODELS = ("gpt-4o-mini", "gpt-4o", "gpt-5.4-mini")
VOICES = (
    "alloy",
    "ash",
    "ballad",
    "coral",
    "echo",
    "fable",
    "onyx",
    "nova",
    "sage",
    "shimmer",
    "verse",
    "marin",
    "cedar",
)
SPEECH_CONTENT_TYPES = {"mp3": "audio/mpeg", "wav": "audio/wav", "pcm": "audio/pcm", "opus": "audio/ogg"}
UPLOAD_FORMATS = ("flac", "mp3", "mp4", "mpeg", "mpga", "m4a", "ogg", "wav", "webm")
AUDIO_TOKENS_PER_SECOND = 10  # the shape of OpenAI's audio token accounting, not its exact rate

INSUFFICIENT_QUOTA = {
    "error": {
        "message": "You exceeded your current quota, please check your plan and billing details.",
        "type": "insufficient_quota",
        "param": None,
        "code": "insufficient_quota",
    }
}

# status → (message, type, code) of OpenAI's documented error bodies
_ERRORS = {
    400: ("Invalid request.", "invalid_request_error", None),
    403: ("Country, region, or territory not supported", "request_forbidden", "unsupported_country_region_territory"),
    404: ("The model does not exist or you do not have access to it.", "invalid_request_error", "model_not_found"),
    409: ("Another request is modifying this resource.", "invalid_request_error", None),
    422: ("Unprocessable request.", "invalid_request_error", None),
    429: ("Rate limit reached for requests. Please try again later.", "requests", "rate_limit_exceeded"),
    500: ("The server had an error while processing your request. Sorry about that!", "server_error", None),
    503: ("The engine is currently overloaded, please try again later.", "server_error", None),
}


# -- error bodies ------------------------------------------------------------------------------------------------
def error_body(message: str, kind: str, code: str | None = None, param: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def error_response(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers=headers)


def invalid(message: str, param: str | None = None, code: str | None = None) -> JSONResponse:
    return error_response(400, error_body(message, "invalid_request_error", code, param))


def fault_response(fault: Fault, state: FakeState) -> JSONResponse:
    if isinstance(fault.body, dict):
        body = fault.body
    elif fault.status == 401:
        body = _bad_key_body("sk-fake")
    else:
        default = _ERRORS[500] if fault.status >= 500 else _ERRORS[400]
        body = error_body(*_ERRORS.get(fault.status, default))
    headers = {}
    if fault.retry_after is not None:
        headers["Retry-After"] = fault.retry_after
    if state.options.get("retry_after_ms") is not None:
        headers["retry-after-ms"] = str(state.options["retry_after_ms"])
    return error_response(fault.status, body, headers)


def _bad_key_body(key: str) -> dict[str, Any]:
    masked = key[:3] + "*" * max(0, len(key) - 7) + key[-4:] if len(key) > 7 else "*" * len(key)
    return error_body(
        f"Incorrect API key provided: {masked}. You can find your API key at https://platform.openai.com/account/api-keys.",
        "invalid_request_error",
        "invalid_api_key",
    )


def auth_failure(request: Request, state: FakeState) -> JSONResponse | None:
    header = request.headers.get("authorization", "")
    if not header.startswith("Bearer ") or not header[7:].strip():
        return error_response(
            401,
            error_body(
                "You didn't provide an API key. You need to provide your API key in an Authorization header using "
                "Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                "invalid_request_error",
            ),
        )
    key = header[7:].strip()
    if key != state.options.get("api_key", API_KEY):
        return error_response(401, _bad_key_body(key))
    return None


# -- streaming helpers -------------------------------------------------------------------------------------------
async def paced(pieces: Iterable[bytes], fault: Fault | None, gap: float = 0.0) -> AsyncIterator[bytes]:
    """Send pieces one by one, ``gap`` seconds apart (a slow fault's delay wins); a cut drops the connection after
    ``fault.after_chunks`` pieces."""
    if fault is not None and fault.kind == "slow":
        gap = fault.delay
    for index, piece in enumerate(pieces):
        if fault is not None and fault.kind == "cut" and index >= fault.after_chunks:
            raise CutConnection(f"cut after {index} chunks")
        if gap and index:
            await asyncio.sleep(gap)
        yield piece
        await asyncio.sleep(0)  # let each piece leave as its own chunk


def split(data: bytes, count: int) -> list[bytes]:
    size = max(1, math.ceil(len(data) / max(1, count)))
    return [data[i : i + size] for i in range(0, len(data), size)]


def sse(event: dict[str, Any] | str) -> bytes:
    return f"data: {event if isinstance(event, str) else json.dumps(event)}\n\n".encode()


def event_stream(events: Iterable[bytes], fault: Fault | None, gap: float = 0.0) -> StreamingResponse:
    return StreamingResponse(paced(events, fault, gap), media_type="text/event-stream")


def json_reply(body: dict[str, Any], fault: Fault | None) -> Response:
    """A JSON 200, honouring malformed (truncated JSON) and cut (chunked body dropped midway)."""
    if fault is not None and fault.kind == "malformed":
        return Response(json.dumps(body)[: len(json.dumps(body)) // 2], media_type="application/json")
    if fault is not None and fault.kind == "cut":
        return StreamingResponse(paced(split(json.dumps(body).encode(), 4), fault), media_type="application/json")
    return JSONResponse(body)


def tokens(text: str) -> int:
    return len(text.split())


# -- multipart (python-multipart is not installed; this reads what httpx and the SDK send) ------------------------
def parse_multipart(body: bytes, content_type: str) -> dict[str, list[tuple[str | None, str | None, bytes]]]:
    """field name → [(filename, content type, bytes)]."""
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    if not match:
        raise ValueError("multipart body without a boundary")
    fields: dict[str, list[tuple[str | None, str | None, bytes]]] = {}
    for part in body.split(b"--" + match.group(1).encode())[1:]:
        if part.startswith(b"--"):
            break
        head, _, data = part.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        headers = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        disposition = headers.get("content-disposition", "")
        name_match = re.search(r'\bname="([^"]*)"', disposition)
        file_match = re.search(r'\bfilename="([^"]*)"', disposition)
        if name_match:
            entry = (
                file_match.group(1) if file_match else None,
                headers.get("content-type"),
                data.removesuffix(b"\r\n"),
            )
            fields.setdefault(name_match.group(1), []).append(entry)
    return fields


def measure_upload(data: bytes) -> float | None:
    """Seconds of the uploaded audio, as a real decoder would report them (WAV exactly; the fake's own MP3 frames)."""
    try:
        with wave.open(io.BytesIO(data)) as reader:
            return reader.getnframes() / reader.getframerate()
    except (wave.Error, EOFError):
        pass
    if data[:2] == b"\xff\xfb" and len(data) % MP3_FRAME_BYTES == 0:  # tests.fakes.audio.silent_mp3 frames
        return len(data) // MP3_FRAME_BYTES * MP3_FRAME_SECONDS
    return None


# -- the app -----------------------------------------------------------------------------------------------------
def create_app(state: FakeState) -> Starlette:
    async def prelude(request: Request) -> tuple[bytes, Fault | None, Response | None]:
        body = await state.record(request)
        fault = await state.before_response()
        if fault is not None and fault.kind == "status":
            return body, fault, fault_response(fault, state)
        return body, fault, auth_failure(request, state)

    async def speech(request: Request) -> Response:
        body, fault, early = await prelude(request)
        if early is not None:
            return early
        try:
            payload = json.loads(body)
        except ValueError:
            return invalid("We could not parse the JSON body of your request.")
        problem = validate_speech(payload)
        if problem is not None:
            return problem
        text, fmt = payload["input"], payload.get("response_format", "mp3")
        speed = float(payload.get("speed", 1.0))
        seconds = state.options.get("speech_seconds") or len(text) * state.options.get("seconds_per_char", 0.06) / speed
        audio = audio_for_format(fmt, seconds, 24000)
        pieces = split(audio, int(state.options.get("chunks", 6)))
        gap = float(state.options.get("chunk_delay", 0.0))
        if payload.get("stream_format") == "sse":
            if fault is not None and fault.kind == "malformed":
                return event_stream([sse("not json at all")], None)
            usage = {"input_tokens": tokens(text) + 2, "output_tokens": math.ceil(seconds * AUDIO_TOKENS_PER_SECOND)}
            usage["total_tokens"] = usage["input_tokens"] + usage["output_tokens"]
            events = [sse({"type": "speech.audio.delta", "audio": base64.b64encode(p).decode()}) for p in pieces]
            events.append(sse({"type": "speech.audio.done", "usage": usage}))
            return event_stream(events, fault, gap)
        if fault is not None and fault.kind == "malformed":
            return HTMLResponse("<html><body><h1>502 Bad Gateway</h1></body></html>")
        return StreamingResponse(paced(pieces, fault, gap), media_type=SPEECH_CONTENT_TYPES[fmt])

    async def transcriptions(request: Request) -> Response:
        body, fault, early = await prelude(request)
        if early is not None:
            return early
        content_type = request.headers.get("content-type", "")
        if not content_type.startswith("multipart/form-data"):
            return invalid("Invalid Content-Type header: expected multipart/form-data.")
        try:
            form = parse_multipart(body, content_type)
        except ValueError:
            return invalid("Could not parse multipart form.")
        value = {name: entries[0][2].decode("utf-8", "replace") for name, entries in form.items() if name != "file"}
        if "file" not in form:
            return invalid("You must provide a file.", param="file")
        model = value.get("model")
        if not model:
            return invalid("you must provide a model parameter", param="model")
        if model not in TRANSCRIBE_MODELS:
            return error_response(404, error_body(*_ERRORS[404]))
        filename, _, audio = form["file"][0]
        extension = (filename or "").rpartition(".")[2].lower()
        if extension not in UPLOAD_FORMATS:
            return invalid(f"Invalid file format. Supported formats: {list(UPLOAD_FORMATS)}", param="file")
        duration = state.options.get("audio_seconds") or measure_upload(audio)
        if duration is None:
            return invalid("Audio file might be corrupted or unsupported", param="file", code="invalid_value")
        response_format = value.get("response_format", "json")
        whisper = model == "whisper-1"
        if not whisper and response_format != "json":
            return invalid(f"response_format '{response_format}' is not compatible with model '{model}'.")
        if "timestamp_granularities[]" in form and response_format != "verbose_json":
            return invalid("timestamp_granularities requires response_format=verbose_json.")
        text = str(state.options.get("transcript", DEFAULT_TRANSCRIPT))
        if response_format == "text":
            return PlainTextResponse(text + "\n")
        if response_format == "verbose_json":
            granularities = [e[2].decode() for e in form.get("timestamp_granularities[]", [])]
            return json_reply(verbose_transcript(text, duration, "word" in granularities), fault)
        if whisper:
            return json_reply({"text": text, "usage": {"type": "duration", "seconds": math.ceil(duration)}}, fault)
        audio_tokens = math.ceil(duration * AUDIO_TOKENS_PER_SECOND)
        usage = {
            "type": "tokens",
            "input_tokens": audio_tokens,
            "input_token_details": {"text_tokens": 0, "audio_tokens": audio_tokens},
            "output_tokens": tokens(text),
            "total_tokens": audio_tokens + tokens(text),
        }
        return json_reply({"text": text, "usage": usage}, fault)

    async def chat_completions(request: Request) -> Response:
        body, fault, early = await prelude(request)
        if early is not None:
            return early
        try:
            payload = json.loads(body)
        except ValueError:
            return invalid("We could not parse the JSON body of your request.")
        messages = payload.get("messages")
        if not isinstance(payload.get("model"), str):
            return invalid("you must provide a model parameter", param="model")
        if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
            return invalid("'messages' must be a non-empty array of message objects.", param="messages")
        model = payload["model"]
        last_user = next((str(m.get("content", "")) for m in reversed(messages) if m.get("role") == "user"), "")
        words = str(state.options.get("reply") or f"Echo: {last_user}").split()
        limit = payload.get("max_completion_tokens") or payload.get("max_tokens")
        finish = "length" if limit and len(words) > limit else "stop"
        words = words[:limit] if limit else words
        usage = {
            "prompt_tokens": sum(tokens(str(m.get("content", ""))) + 3 for m in messages) + 3,
            "completion_tokens": len(words),
        }
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        base = {"id": f"chatcmpl-fake{len(state.requests)}", "created": CREATED, "model": model}
        if not payload.get("stream"):
            message = {"role": "assistant", "content": " ".join(words), "refusal": None, "annotations": []}
            choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": finish}
            full = {**base, "object": "chat.completion", "choices": [choice], "usage": usage, "service_tier": "default"}
            return json_reply(full, fault)
        include_usage = bool((payload.get("stream_options") or {}).get("include_usage"))
        events = chat_events(base, words, finish, usage if include_usage else None, fault)
        return event_stream(events, fault, float(state.options.get("chunk_delay", 0.0)))

    def chat_events(
        base: dict[str, Any], words: list[str], finish: str, usage: dict[str, int] | None, fault: Fault | None
    ) -> list[bytes]:
        def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
            extra = {"usage": None} if usage is not None else {}
            return sse({**base, "object": "chat.completion.chunk", "choices": [choice], **extra})

        if fault is not None and fault.kind == "malformed":
            return [chunk({"role": "assistant", "content": ""}), sse("{this is not json"), sse("[DONE]")]
        events = [chunk({"role": "assistant", "content": ""})]
        error_after = state.options.get("stream_error_after")
        for index, word in enumerate(words):
            if error_after is not None and index == error_after:
                events.append(sse(error_body("The server had an error while processing your request.", "server_error")))
                return events  # the vendor gives up: no finish, no usage, no [DONE]
            events.append(chunk({"content": word if index == 0 else " " + word}))
        events.append(chunk({}, finish))
        if usage is not None:
            events.append(sse({**base, "object": "chat.completion.chunk", "choices": [], "usage": usage}))
        events.append(sse("[DONE]"))
        return events

    async def models(request: Request) -> Response:
        _, fault, early = await prelude(request)
        if early is not None:
            return early
        data = [
            {"id": m, "object": "model", "created": CREATED, "owned_by": "openai"}
            for m in (*CHAT_MODELS, *SPEECH_MODELS, *TRANSCRIBE_MODELS)
        ]
        return json_reply({"object": "list", "data": data}, fault)

    return Starlette(
        routes=[
            Route("/v1/audio/speech", speech, methods=["POST"]),
            Route("/v1/audio/transcriptions", transcriptions, methods=["POST"]),
            Route("/v1/chat/completions", chat_completions, methods=["POST"]),
            Route("/v1/models", models, methods=["GET"]),
        ]
    )


def validate_speech(payload: Any) -> Response | None:
    """OpenAI's CreateSpeechRequest rules (additionalProperties: false)."""
    allowed = {"model", "input", "voice", "instructions", "response_format", "speed", "stream_format"}
    if not isinstance(payload, dict):
        return invalid("The request body must be a JSON object.")
    unknown = sorted(set(payload) - allowed)
    if unknown:
        return invalid(f"Unrecognized request argument supplied: {unknown[0]}", param=unknown[0])
    model, text, voice = payload.get("model"), payload.get("input"), payload.get("voice")
    if not isinstance(model, str):
        return invalid("you must provide a model parameter", param="model")
    if model not in SPEECH_MODELS:
        return error_response(404, error_body(*_ERRORS[404]))
    if not isinstance(text, str) or not text:
        return invalid("[] is too short - 'input'", param="input")
    if len(text) > 4096:
        return invalid(f"'{text[:20]}...' is too long - 'input' (maximum 4096 characters)", param="input")
    if not (voice in VOICES or (isinstance(voice, dict) and str(voice.get("id", "")).startswith("voice_"))):
        return invalid(f"Invalid voice: {voice!r}", param="voice")
    if payload.get("response_format", "mp3") not in SPEECH_CONTENT_TYPES:
        return invalid("This fake produces mp3, wav, pcm and opus only.", param="response_format")
    speed = payload.get("speed", 1.0)
    if not isinstance(speed, (int, float)) or not 0.25 <= speed <= 4.0:
        return invalid("speed must be between 0.25 and 4.0", param="speed")
    if model.startswith("tts-1") and payload.get("instructions"):
        return invalid("instructions are not supported for tts-1 and tts-1-hd", param="instructions")
    if model.startswith("tts-1") and payload.get("stream_format", "audio") != "audio":
        return invalid("stream_format 'sse' is not supported for tts-1 and tts-1-hd", param="stream_format")
    return None


def verbose_transcript(text: str, duration: float, with_words: bool) -> dict[str, Any]:
    """whisper-1 verbose_json: words spread evenly over the audio, one segment, usage in seconds."""
    words = text.split()
    slot = duration / max(1, len(words))
    body: dict[str, Any] = {
        "task": "transcribe",
        "language": "english",
        "duration": round(duration, 2),
        "text": text,
        "segments": [
            {
                "id": 0,
                "seek": 0,
                "start": 0.0,
                "end": round(duration, 2),
                "text": text,
                "tokens": list(range(50364, 50364 + len(words))),
                "temperature": 0.0,
                "avg_logprob": -0.2,
                "compression_ratio": 1.1,
                "no_speech_prob": 0.01,
            }
        ],
        "usage": {"type": "duration", "seconds": math.ceil(duration)},
    }
    if with_words:
        body["words"] = [
            {"word": w, "start": round(i * slot, 2), "end": round(i * slot + slot * 0.9, 2)}
            for i, w in enumerate(words)
        ]
    return body

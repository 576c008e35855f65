"""The OpenAI-compatible API under ``/v1``: speech, transcriptions, chat completions and the model list, in OpenAI's
request/response shapes, so the official ``openai`` SDK works with only ``base_url`` changed. Any configured vendor
may serve a request (a speech request can be answered by ElevenLabs); routing, failover and billing are the same as
the native endpoints'. Errors on these routes use OpenAI's error shape (:class:`OpenAIRoute`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from gateway.api.deps import Caller, json_object, read_body, workspace_caller
from gateway.api.llm import (
    MAX_MESSAGES,
    MAX_OUTPUT_TOKENS,
    MAX_PROMPT_CHARS,
    CompletionStream,
    complete,
    model_for,
    open_stream,
    provider_models,
    requested_model,
    sse,
    stream_headers,
)
from gateway.api.voice import synthesis_response
from gateway.errors import (
    GatewayError,
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
    ProviderError,
    describe_validation_errors,
)
from gateway.middleware import request_id_of
from gateway.multipart_form import parse_form
from gateway.routing.directory import Candidate
from gateway.routing.select import require_known_provider, select_candidates
from gateway.speech import transcribe_audio
from providers.base import (
    Capability,
    ChatMessage,
    CompletionRequest,
    Provider,
    SynthesisRequest,
)

log = logging.getLogger("gateway.openai_compat")


# -- OpenAI-shaped errors ------------------------------------------------------------------------------------------
# Our error type → OpenAI's (type, code). Status codes stay ours (they already match OpenAI's meaning).
OPENAI_ERROR_TYPES: dict[str, tuple[str, str | None]] = {
    "invalid_request": ("invalid_request_error", None),
    "unauthorized": ("authentication_error", "invalid_api_key"),
    "forbidden": ("permission_error", "forbidden"),
    "not_found": ("invalid_request_error", "not_found"),
    "payload_too_large": ("invalid_request_error", "payload_too_large"),
    "unsupported_media_type": ("invalid_request_error", "unsupported_media_type"),
    "rate_limited": ("rate_limit_error", "rate_limit_exceeded"),
    "quota_exceeded": ("insufficient_quota", "insufficient_quota"),
    "upstream_error": ("server_error", "upstream_error"),
    "no_providers_available": ("server_error", "no_providers_available"),
    "upstream_timeout": ("server_error", "upstream_timeout"),
    "internal_error": ("server_error", None),
}
_STATUS_TYPES = {400: "invalid_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "invalid_request",
                 413: "payload_too_large", 415: "unsupported_media_type", 422: "invalid_request",
                 429: "rate_limited"}  # fmt: skip


def openai_error(
    message: str, our_type: str, *, param: str | None = None, code: str | None = None, **extra: Any
) -> dict[str, Any]:
    kind, default_code = OPENAI_ERROR_TYPES.get(our_type, ("server_error", None))
    return {"error": {"message": message, "type": kind, "param": param, "code": code or default_code, **extra}}


def openai_error_response(exc: GatewayError) -> JSONResponse:
    extra = {k: v for k, v in exc.extra.items() if k not in ("param", "code")}
    if exc.attempts is not None:
        extra["attempts"] = exc.attempts
    body = openai_error(exc.message, exc.type, param=exc.extra.get("param"), code=exc.extra.get("code"), **extra)
    return JSONResponse(body, status_code=exc.status, headers=exc.headers())


class OpenAIRoute(APIRoute):
    """Renders every error raised while handling a ``/v1`` route in OpenAI's shape. The app-wide handlers keep our
    own envelope for every other route; catching here, inside the route, means they never see these errors."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        return self.wrap_handler(super().get_route_handler())

    def wrap_handler(
        self, handler: Callable[[Request], Awaitable[Response]]
    ) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """``handler`` with every error rendered in OpenAI's shape (also used by ``gateway.direct_routes``)."""

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except GatewayError as exc:
                return openai_error_response(exc)
            except RequestValidationError as exc:
                first = (exc.errors() or [{}])[0]
                param = ".".join(str(p) for p in first.get("loc", ()) if p not in ("body", "query")) or None
                return openai_error_response(InvalidRequest(str(first.get("msg", "invalid request")),
                                                            extra={"param": param}))  # fmt: skip
            except StarletteHTTPException as exc:
                our_type = _STATUS_TYPES.get(exc.status_code, "internal_error")
                return JSONResponse(openai_error(str(exc.detail), our_type), status_code=exc.status_code,
                                    headers=exc.headers)  # fmt: skip
            except Exception:
                log.exception("unhandled error in %s %s (request %s)", request.method, request.url.path,
                              request_id_of(request.scope))  # fmt: skip
                return JSONResponse(openai_error("internal error", "internal_error"), status_code=500)

        return handle


router = APIRouter(route_class=OpenAIRoute, tags=["openai-compatible"])


async def openai_body(request: Request, model: type[Any]) -> Any:
    """Like ``json_body``, but validation problems are 400 with the offending ``param`` named, as OpenAI does."""
    data = await json_object(request)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        param = ".".join(str(p) for p in first.get("loc", ())) or None
        raise InvalidRequest(describe_validation_errors(exc.errors(), limit=5), extra={"param": param}) from None


def invalid(message: str, param: str | None = None) -> InvalidRequest:
    return InvalidRequest(message, extra={"param": param})


# -- POST /v1/audio/speech -----------------------------------------------------------------------------------------
SPEECH_FORMATS = frozenset(
    {"mp3", "opus", "wav", "pcm", "flac"}
)  # flac: the vendors that make it (the built-in engine)
OPENAI_ONLY_FORMATS = frozenset({"aac"})  # valid at OpenAI, not produced by this gateway
OPENAI_PCM_SAMPLE_RATE = 24000  # OpenAI defines response_format=pcm as 24 kHz 16-bit mono: keep that promise
MAX_SPEECH_INPUT = 4096
# OpenAI's voices → the gateway's aliases, so another vendor serving the request picks a comparable voice.
OPENAI_VOICE_ALIASES = {
    "alloy": "neutral", "ash": "male", "ballad": "male", "cedar": "male", "coral": "female", "echo": "male",
    "fable": "neutral", "marin": "female", "nova": "female", "onyx": "male", "sage": "female", "shimmer": "female",
    "verse": "male",
}  # fmt: skip


class VoiceRef(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: StrictStr = Field(min_length=1, max_length=200)


class SpeechBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    model: StrictStr | None = Field(default=None, max_length=200)
    input: StrictStr = Field(min_length=1, max_length=MAX_SPEECH_INPUT)
    voice: StrictStr | VoiceRef | None = None
    response_format: StrictStr = "mp3"
    speed: float | None = Field(default=None, ge=0.25, le=4.0)
    instructions: StrictStr | None = Field(default=None, max_length=4096)  # accepted; vendors here take none
    stream_format: StrictStr | None = None
    provider: StrictStr | None = None  # gateway extension: pin a vendor

    @property
    def voice_name(self) -> str | None:
        return self.voice.id if isinstance(self.voice, VoiceRef) else self.voice


def speech_request_for(provider: Provider, body: SpeechBody) -> SynthesisRequest:
    """The request as *this* vendor should get it: an OpenAI voice becomes the matching alias elsewhere, and an
    OpenAI model (``tts-1``) is only sent to OpenAI — other vendors use their default model."""
    voice = body.voice_name
    if voice and provider.id != "openai" and voice.lower() in OPENAI_VOICE_ALIASES:
        voice = OPENAI_VOICE_ALIASES[voice.lower()]
    fmt = body.response_format
    return SynthesisRequest(
        text=body.input,
        voice=voice,
        model=model_for(provider, requested_model(body.model)),
        format=fmt,
        sample_rate=OPENAI_PCM_SAMPLE_RATE if fmt == "pcm" else None,
        speed=body.speed,
    )


@router.post("/v1/audio/speech", summary="OpenAI-compatible text to speech (any vendor may serve it)")
async def speech(request: Request) -> Response:
    found = await workspace_caller(request)  # a plain call: no dependency solving per request
    body: SpeechBody = await openai_body(request, SpeechBody)
    if not body.input.strip():
        raise invalid("input must contain something to say", "input")
    fmt = body.response_format
    if fmt in OPENAI_ONLY_FORMATS:
        raise invalid(f"response_format {fmt!r} is not supported by this gateway; use mp3, opus, wav, pcm or flac",
                      "response_format")  # fmt: skip
    if fmt not in SPEECH_FORMATS:
        raise invalid(f"response_format must be one of mp3, opus, wav, pcm, flac (got {fmt!r})", "response_format")
    if body.stream_format not in (None, "audio"):
        raise invalid("only stream_format 'audio' is supported", "stream_format")

    if body.provider is not None:
        require_known_provider(body.provider)
    # The cache key is the request as the client wrote it (before per-vendor voice/model mapping).
    as_asked = SynthesisRequest(text=body.input, voice=body.voice_name, model=body.model, format=fmt,
                                sample_rate=OPENAI_PCM_SAMPLE_RATE if fmt == "pcm" else None, speed=body.speed)  # fmt: skip
    lookup = await found.gateway.speech_cache.lookup(
        found.workspace_id, request.headers, as_asked, pinned=body.provider, dialect="openai"
    )

    as_sent: dict[str, SynthesisRequest] = {}  # per vendor: asked by the filter, the estimate and the attempt

    def request_for(provider: Provider) -> SynthesisRequest:
        sent = as_sent.get(provider.id)
        if sent is None:
            sent = as_sent[provider.id] = speech_request_for(provider, body)
        return sent

    def find_candidates() -> Awaitable[list[Candidate]]:
        return select_candidates(
            found.gateway,
            found.workspace_id,
            Capability.TTS,
            pinned=body.provider,
            can_serve=lambda c: c.provider.supports_synthesis(request_for(c.provider)),
            estimate=lambda c: c.provider.estimate_synthesis_cost(request_for(c.provider)),
            asked=f"speech in {fmt}",
            reserve=found.reserve_budget,
        )

    return await synthesis_response(found, lookup, find_candidates, request_for, fmt)


# -- POST /v1/audio/transcriptions ---------------------------------------------------------------------------------
TRANSCRIPTION_FORMATS = frozenset({"json", "text", "verbose_json"})
FORM_OVERHEAD_BYTES = 64 * 1024  # the form's own fields and boundaries, on top of the audio size limit


def _field(form: dict[str, list[Any]], name: str, *, max_length: int = 200) -> str | None:
    parts = form.get(name)
    if not parts:
        return None
    value = str(parts[0].text()).strip()
    if len(value) > max_length:
        raise invalid(f"{name} is too long", name)
    return value or None


@router.post("/v1/audio/transcriptions", summary="OpenAI-compatible speech to text (multipart upload)")
async def transcriptions(request: Request) -> Response:
    found = await workspace_caller(request)  # a plain call: no dependency solving per request
    limit = found.gateway.settings.max_audio_bytes
    content_type = request.headers.get("content-type", "")
    if not content_type.lower().startswith("multipart/form-data"):
        raise invalid("send the request as multipart/form-data with the audio in the 'file' field")
    raw = await read_body(request, limit + FORM_OVERHEAD_BYTES)
    form = parse_form(raw, content_type)
    files = form.get("file")
    if not files:
        raise invalid("you must provide a file", "file")
    audio_bytes = files[0].data
    if len(audio_bytes) > limit:
        raise PayloadTooLarge(f"the file exceeds the limit of {limit} bytes")
    if not audio_bytes:
        raise invalid("the uploaded file is empty", "file")
    response_format = _field(form, "response_format") or "json"
    if response_format not in TRANSCRIPTION_FORMATS:
        raise invalid(f"response_format must be one of json, text, verbose_json (got {response_format!r})",
                      "response_format")  # fmt: skip
    language = _field(form, "language", max_length=35)
    model = requested_model(_field(form, "model"))
    done = await transcribe_audio(
        found, audio_bytes, language=language, pinned=_field(form, "provider"),
        model_for=lambda provider: model_for(provider, model), what="the uploaded file",
    )  # fmt: skip
    result = done.result
    headers = {"X-Provider": done.provider.id, "X-Cost": done.charge.header(), "X-Attempts": str(done.attempts),
               "X-Model": result.model}  # fmt: skip
    if response_format == "text":
        return PlainTextResponse(result.text + "\n", headers=headers)
    if response_format == "verbose_json":
        payload: dict[str, Any] = {
            "task": "transcribe",
            "language": result.language or language or "unknown",
            "duration": round(result.duration, 3),
            "text": result.text,
            "words": [{"word": w.word, "start": w.start, "end": w.end} for w in result.words],
        }
    else:
        payload = {"text": result.text}
    payload["usage"] = {"type": "duration", "seconds": math.ceil(result.duration)}
    return JSONResponse(payload, headers=headers)


# -- POST /v1/chat/completions -------------------------------------------------------------------------------------
ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}
FINISH_REASONS = frozenset({"stop", "length", "content_filter", "tool_calls", "function_call"})


class ChatMessageIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: StrictStr
    content: StrictStr | list[dict[str, Any]] | None = None


class ChatBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    model: StrictStr | None = Field(default=None, max_length=200)
    messages: list[ChatMessageIn] = Field(min_length=1, max_length=MAX_MESSAGES)
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=1, le=MAX_OUTPUT_TOKENS)
    max_completion_tokens: int | None = Field(default=None, ge=1, le=MAX_OUTPUT_TOKENS)
    stream: bool | None = False
    stream_options: dict[str, Any] | None = None  # include_usage is honoured by always sending the usage chunk
    n: int | None = None
    tools: list[Any] | None = None
    provider: StrictStr | None = None  # gateway extension: pin a vendor (extra_body={"provider": ...})


def _message_text(index: int, message: ChatMessageIn) -> str:
    content = message.content
    if content is None:
        raise invalid("message content must be text (tool calls are not supported)", f"messages.[{index}].content")
    if isinstance(content, str):
        return content
    texts = []
    for part in content:
        if part.get("type") != "text" or not isinstance(part.get("text"), str):
            raise invalid("only text content parts are supported", f"messages.[{index}].content")
        texts.append(part["text"])
    return "\n".join(texts)


def completion_request(body: ChatBody) -> CompletionRequest:
    if body.n not in (None, 1):
        raise invalid("only n=1 is supported", "n")
    if body.tools:
        raise invalid("tools are not supported by this gateway", "tools")
    messages = []
    for index, message in enumerate(body.messages):
        role = ROLES.get(message.role)
        if role is None:
            raise invalid(f"role {message.role!r} is not supported (use system, developer, user or assistant)",
                          f"messages.[{index}].role")  # fmt: skip
        messages.append(ChatMessage(role, _message_text(index, message)))
    if sum(len(m.content) for m in messages) > MAX_PROMPT_CHARS:
        raise invalid(f"messages hold more than {MAX_PROMPT_CHARS} characters", "messages")
    if not any(m.role == "user" for m in messages):
        raise invalid("messages need at least one user message", "messages")
    return CompletionRequest(
        messages=tuple(messages),
        model=requested_model(body.model),
        temperature=body.temperature,
        max_tokens=body.max_completion_tokens or body.max_tokens,
    )


def finish_reason(value: str | None) -> str:
    return value if value in FINISH_REASONS else "stop"


@router.post("/v1/chat/completions", summary="OpenAI-compatible chat completions (JSON or SSE with a usage chunk)")
async def chat_completions(request: Request) -> Response:
    found = await workspace_caller(request)  # a plain call: no dependency solving per request
    body: ChatBody = await openai_body(request, ChatBody)
    completion = completion_request(body)
    created = int(found.gateway.runtime.clock.time())
    completion_id = f"chatcmpl-{found.request_id}"
    if body.stream:
        stream = await open_stream(found, completion, body.provider)
        return StreamingResponse(
            _chat_events(stream, completion_id, created), media_type="text/event-stream", headers=stream_headers(stream)
        )
    winner, result, charge, attempts = await complete(found, completion, body.provider)
    return JSONResponse(
        {
            "id": completion_id,
            "object": "chat.completion",
            "created": created,
            "model": result.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": result.text, "refusal": None},
                    "logprobs": None,
                    "finish_reason": finish_reason(result.finish_reason),
                }
            ],
            "usage": {
                "prompt_tokens": result.input_tokens,
                "completion_tokens": result.output_tokens,
                "total_tokens": result.input_tokens + result.output_tokens,
            },
            "system_fingerprint": None,
        },
        headers={"X-Provider": winner.id, "X-Cost": charge.header(), "X-Attempts": str(attempts)},
    )


async def _chat_events(stream: CompletionStream, completion_id: str, created: int) -> AsyncIterator[bytes]:
    """OpenAI's chunk sequence: role, content deltas, finish, a ``choices: []`` usage chunk, ``[DONE]``. A vendor
    failing mid-stream ends it with ``data: {"error": …}`` (what the SDK turns into an APIError)."""
    model = stream.first.model or stream.request.model or stream.provider.default_llm_model or "unknown"
    base = {"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": model,
            "system_fingerprint": None}  # fmt: skip

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        return sse({**base, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]})

    try:
        yield chunk({"role": "assistant", "content": ""})
        try:
            async for piece in stream.chunks():
                if piece.text:
                    yield chunk({"content": piece.text})
        except ProviderError as exc:
            await stream.bill()
            message = f"the vendor failed mid-stream ({exc.provider}: {exc.message})"
            yield sse(openai_error(message, "upstream_error", attempts=[exc.attempt()]))
            return
        yield chunk({}, finish_reason(stream.finish_reason))
        await stream.bill()
        yield sse({**base, "choices": [], "usage": stream.usage})
        yield sse("[DONE]")
    finally:
        await stream.bill()  # also when the client went away mid-stream


# -- GET /v1/models ------------------------------------------------------------------------------------------------
def _created(provider: Provider) -> int:
    """OpenAI's ``created`` is a Unix time; ours is the date of the vendor's price table (when we last checked it)."""
    for layout in ("%Y-%m-%d", "%Y-%m", "%Y"):  # tables are dated to the day, or only to the month
        try:
            return int(datetime.strptime(provider.prices.as_of, layout).replace(tzinfo=UTC).timestamp())
        except ValueError:
            continue
    return 0


# The model names OpenAI's audio endpoints take. Any vendor serves them here (with its own model when it is not
# OpenAI), so they are listed whenever some vendor can serve the endpoint: an SDK that checks the list finds them.
ENDPOINT_MODELS = {
    Capability.TTS: ("tts-1", "tts-1-hd", "gpt-4o-mini-tts"),
    Capability.STT: ("whisper-1", "gpt-4o-transcribe", "gpt-4o-mini-transcribe"),
}


async def _workspace_models(found: Caller) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = []
    seen: set[str] = set()
    directory = found.gateway.directory
    for candidate in await directory.configured(found.workspace_id):
        for model in provider_models(candidate.provider):
            if model not in seen:
                seen.add(model)
                data.append({"id": model, "object": "model", "created": _created(candidate.provider),
                             "owned_by": candidate.id})  # fmt: skip
    for capability, names in ENDPOINT_MODELS.items():
        serving = await directory.candidates(found.workspace_id, capability)
        for model in names:
            if serving and model not in seen:
                seen.add(model)
                # owned_by: the vendor that serves it first (priority order; the built-in engine last)
                data.append({"id": model, "object": "model", "created": _created(serving[0].provider),
                             "owned_by": serving[0].id, "served_by": [c.id for c in serving]})  # fmt: skip
    return data


@router.get("/v1/models", summary="OpenAI-compatible list of the models this workspace can use")
async def models(found: Caller = Depends(workspace_caller)) -> dict[str, Any]:
    return {"object": "list", "data": await _workspace_models(found)}


@router.get("/v1/models/{model_id:path}", summary="OpenAI-compatible model lookup")
async def model(model_id: str, found: Caller = Depends(workspace_caller)) -> dict[str, Any]:
    for entry in await _workspace_models(found):
        if entry["id"] == model_id:
            return entry
    raise NotFound(f"The model '{model_id}' does not exist or you do not have access to it.",
                   extra={"code": "model_not_found"})  # fmt: skip


@router.api_route("/v1/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)
async def unknown(request: Request, path: str) -> Response:
    """OpenAI answers an unknown path (or a wrong method) with an OpenAI-shaped 404; so do we."""
    raise NotFound(f"Invalid URL ({request.method} {request.url.path})", extra={"code": "unknown_url"})

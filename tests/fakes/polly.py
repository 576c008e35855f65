"""A fake Amazon Polly: ``POST /v1/speech`` (SynthesizeSpeech) and ``GET /v1/voices`` (DescribeVoices).

Speaks reference/providers.md §5.1: rest-json errors ``{"message": ...}`` with the type in ``x-amzn-ErrorType``,
audio streamed in chunks with ``x-amzn-RequestCharacters`` (SSML tags are not billed). Requests must carry SigV4
(``Authorization: AWS4-HMAC-SHA256 Credential=...`` and ``X-Amz-Date``), else 403 ``UnrecognizedClientException``;
the fake then recomputes the signature with the known test secret, so a request the adapter changed after signing
(or signed with the wrong secret, region or service) fails with ``InvalidSignatureException`` like the real service.

``state.options``: ``seconds`` (float: length of the audio), ``request_characters`` (int: overrides the header),
``content_type`` (str: overrides the audio Content-Type), ``chunk_delay`` (float: a stall between body chunks).
Faults: ``Fault("status", status=..., body="ThrottlingException")`` picks the error type (default per status).
"""

from __future__ import annotations

import hmac
import html
import json
import re
import uuid
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from providers.aws_sigv4 import canonical_request, signing_key, string_to_sign
from tests.fakes.audio import audio_for_format, sine_pcm
from tests.fakes.chunked import chunks_of, streamed
from tests.fakes.harness import FakeState, Fault

ACCESS_KEY = "test-polly-key"
SECRET_KEY = "test-polly-secret"
MAX_BILLED_CHARACTERS = 3000
MAX_TEXT = 6000

ENGINES = {"standard", "neural", "long-form", "generative"}
_ALL = frozenset(ENGINES - {"long-form"})
# A few real voices and the engines each has (DescribeVoices SupportedEngines).
VOICES: dict[str, tuple[str, str, frozenset[str]]] = {
    "Joanna": ("en-US", "Female", _ALL),
    "Matthew": ("en-US", "Male", _ALL),
    "Ruth": ("en-US", "Female", frozenset({"neural", "long-form", "generative"})),
    "Ivy": ("en-US", "Female", frozenset({"standard", "neural"})),
    "Amy": ("en-GB", "Female", _ALL),
    "Brian": ("en-GB", "Male", frozenset({"standard", "neural"})),
    "Lucia": ("es-ES", "Female", _ALL),
    "Sergio": ("es-ES", "Male", frozenset({"neural", "generative"})),
    "Vicki": ("de-DE", "Female", _ALL),
    "Daniel": ("de-DE", "Male", frozenset({"neural", "generative"})),
    "Lea": ("fr-FR", "Female", _ALL),
    "Remi": ("fr-FR", "Male", frozenset({"neural", "generative"})),
    "Kazuha": ("ja-JP", "Female", frozenset({"neural"})),
}
SAMPLE_RATES = {"mp3": {"8000", "16000", "22050", "24000"}, "ogg_vorbis": {"8000", "16000", "22050", "24000"}}
SAMPLE_RATES["pcm"] = {"8000", "16000"}

# The error type each status renders by default, and the message AWS sends for it.
DEFAULT_TYPES = {
    400: "ValidationException",
    403: "UnrecognizedClientException",
    404: "LexiconNotFoundException",
    429: "ThrottlingException",
    500: "ServiceFailureException",
    503: "ServiceUnavailable",
}
MESSAGES = {
    "ValidationException": "1 validation error detected",
    "UnrecognizedClientException": "The security token included in the request is invalid.",
    "InvalidSignatureException": "The request signature we calculated does not match the signature you provided.",
    "AccessDeniedException": "User is not authorized to perform: polly:SynthesizeSpeech",
    "LexiconNotFoundException": "Lexicon not found",
    "ThrottlingException": "Rate exceeded",
    "ServiceFailureException": "An unknown condition has caused a service failure.",
    "ServiceUnavailable": "Service unavailable",
    "TextLengthExceededException": "Maximum text length has been exceeded",
    "InvalidSampleRateException": "The specified sample rate is not valid.",
    "InvalidSsmlException": "The SSML you provided is invalid.",
    "EngineNotSupportedException": "This voice does not support the selected engine.",
}
_AUTH = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request, "
    r"SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$"
)


def error(kind: str, status: int, message: str | None = None, retry_after: str | None = None) -> JSONResponse:
    headers = {
        "x-amzn-ErrorType": f"{kind}:http://internal.amazon.com/coral/com.amazonaws.polly/",
        "x-amzn-RequestId": str(uuid.uuid4()),
    }
    if retry_after is not None:
        headers["Retry-After"] = retry_after
    return JSONResponse({"message": message or MESSAGES.get(kind, kind)}, status_code=status, headers=headers)


def fault_response(fault: Fault) -> JSONResponse:
    """``fault.body``: an error type (``"ThrottlingException"``) or ``{"type", "message"}`` for a specific message."""
    body = fault.body if isinstance(fault.body, dict) else {"type": fault.body}
    kind = body.get("type") if isinstance(body.get("type"), str) else None
    kind = kind or DEFAULT_TYPES.get(fault.status, "ServiceFailureException")
    return error(kind, fault.status, body.get("message"), retry_after=fault.retry_after)


def auth_failure(request: Request, body: bytes) -> JSONResponse | None:
    """Check SigV4 the way AWS does: the form first, then the key, then the signature over what arrived."""
    match = _AUTH.match(request.headers.get("authorization", ""))
    amz_date = request.headers.get("x-amz-date", "")
    if match is None or not amz_date:
        return error("UnrecognizedClientException", 403)
    access_key, day, region, service, signed_headers, signature = match.groups()
    if access_key != ACCESS_KEY:
        return error("UnrecognizedClientException", 403)
    if service != "polly" or not amz_date.startswith(day):
        return error("InvalidSignatureException", 403, "Credential should be scoped to a valid service and date.")
    names = signed_headers.split(";")
    if "host" not in names or "x-amz-date" not in names:
        return error("InvalidSignatureException", 403, "'Host' and 'X-Amz-Date' must be signed.")
    received = {name: request.headers.get(name, "") for name in names}
    path = (request.scope.get("raw_path") or request.url.path.encode()).decode("latin-1")  # as sent, not decoded
    url = path + (f"?{request.url.query}" if request.url.query else "")
    canonical, _ = canonical_request(request.method, "http://fake" + url, received, body)
    scope = f"{day}/{region}/polly/aws4_request"
    expected = hmac.new(
        signing_key(SECRET_KEY, day, region, "polly"), string_to_sign(amz_date, scope, canonical).encode(), "sha256"
    ).hexdigest()
    if not hmac.compare_digest(expected, signature):
        return error("InvalidSignatureException", 403)
    return None


def billed(text: str, text_type: str) -> int:
    """SSML tags are not billed: count the characters of the text they mark up."""
    return len(html.unescape(re.sub(r"<[^>]*>", "", text))) if text_type == "ssml" else len(text)


def validate(payload: Any) -> JSONResponse | None:
    if not isinstance(payload, dict):
        return error("ValidationException", 400, "Request body must be a JSON object")
    for field in ("OutputFormat", "Text", "VoiceId"):
        if not isinstance(payload.get(field), str) or not payload[field]:
            return error("ValidationException", 400, f"1 validation error detected: '{field}' must not be null")
    text, text_type, fmt = payload["Text"], payload.get("TextType", "text"), payload["OutputFormat"]
    engine, voice = payload.get("Engine", "standard"), payload["VoiceId"]
    if fmt not in SAMPLE_RATES or engine not in ENGINES or voice not in VOICES or text_type not in ("text", "ssml"):
        return error("ValidationException", 400, "1 validation error detected: value not in enum")
    if "SampleRate" in payload and payload["SampleRate"] not in SAMPLE_RATES[fmt]:
        return error("InvalidSampleRateException", 400)
    if text_type == "ssml" and not re.fullmatch(r"\s*<speak>.*</speak>\s*", text, re.DOTALL):
        return error("InvalidSsmlException", 400)
    if len(text) > MAX_TEXT or billed(text, text_type) > MAX_BILLED_CHARACTERS:
        return error("TextLengthExceededException", 400)
    language, _, engines = VOICES[voice]
    if engine not in engines:
        return error("EngineNotSupportedException", 400)
    if payload.get("LanguageCode") not in (None, language):
        return error("ValidationException", 400, f"Voice {voice} does not speak {payload['LanguageCode']}")
    return None


def audio_for(fmt: str, rate: str | None, seconds: float) -> tuple[bytes, str]:
    if fmt == "pcm":
        return sine_pcm(seconds, int(rate or "16000")), "audio/pcm"
    if fmt == "ogg_vorbis":
        return audio_for_format("ogg", seconds), "audio/ogg"
    return audio_for_format("mp3", seconds), "audio/mpeg"


def create_app(state: FakeState) -> Starlette:
    async def speech(request: Request) -> Response:
        raw = await state.record(request)
        fault = await state.before_response()
        if fault is not None and fault.kind == "status":
            return fault_response(fault)
        denied = auth_failure(request, raw)
        if denied is not None:
            return denied
        try:
            payload = json.loads(raw)
        except ValueError:
            return error("ValidationException", 400, "Could not parse request body into json")
        invalid = validate(payload)
        if invalid is not None:
            return invalid
        if fault is not None and fault.kind == "malformed":  # a 2xx that is not audio
            return Response(b'{"message": "Internal', media_type="application/json")
        characters = billed(payload["Text"], payload.get("TextType", "text"))
        seconds = float(state.options.get("seconds", min(5.0, max(0.3, characters * 0.06))))
        audio, media_type = audio_for(payload["OutputFormat"], payload.get("SampleRate"), seconds)
        headers = {
            "x-amzn-RequestCharacters": str(state.options.get("request_characters", characters)),
            "x-amzn-RequestId": str(uuid.uuid4()),
        }
        media_type = str(state.options.get("content_type", media_type))
        return streamed(chunks_of(audio), media_type, headers, fault, float(state.options.get("chunk_delay", 0.0)))

    async def voices(request: Request) -> Response:
        raw = await state.record(request)
        fault = await state.before_response()
        if fault is not None and fault.kind == "status":
            return fault_response(fault)
        denied = auth_failure(request, raw)
        if denied is not None:
            return denied
        if fault is not None and fault.kind == "malformed":
            return Response(b'{"Voices": [{"Id": "Joanna"', media_type="application/json")
        engine, language = request.query_params.get("Engine"), request.query_params.get("LanguageCode")
        listed = [
            {"Id": name, "Name": name, "Gender": gender, "LanguageCode": code, "SupportedEngines": sorted(engines)}
            for name, (code, gender, engines) in VOICES.items()
            if (engine is None or engine in engines) and (language is None or language == code)
        ]
        return JSONResponse({"Voices": listed})

    return Starlette(
        routes=[Route("/v1/speech", speech, methods=["POST"]), Route("/v1/voices", voices, methods=["GET"])]
    )

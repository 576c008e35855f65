"""Amazon Polly text-to-speech: ``SynthesizeSpeech`` (``POST /v1/speech``), probed with ``DescribeVoices``.

Wire format: reference/providers.md §5.1 (rest-json, SigV4 service ``polly``). Requests are signed by our own
:mod:`providers.aws_sigv4` because botocore cannot run in a Worker. Errors are ``{"message": ...}`` with the error type
in the ``x-amzn-ErrorType`` header (sometimes ``__type`` in the body); the type, not the status, decides the class
(a throttle may arrive as 400). Polly has no Opus: ``ogg_vorbis`` is Vorbis, so we never offer "opus". Our ``wav`` is
Polly's ``pcm`` (s16le mono) wrapped in a WAV header here.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import AsyncIterator, Mapping
from typing import Any, ClassVar
from urllib.parse import urlsplit

from gateway.audio import wav_from_pcm
from gateway.errors import ErrorClass, ProviderError
from providers.aws_sigv4 import sign
from providers.base import (
    AUDIO_CONTENT_TYPES,
    Call,
    Capability,
    Credentials,
    PriceTable,
    Provider,
    SynthesisRequest,
    SynthesisResult,
    Unit,
    per_million,
)
from providers.http import DescribeError, iter_body, open_stream, parse_json, send
from providers.tts_response import billed_characters

PROVIDER_ID = "polly"
SERVICE = "polly"
SPEECH_PATH = "/v1/speech"
VOICES_PATH = "/v1/voices"
DEFAULT_REGION = "us-east-1"
# Where credentials_from_env (and platform config) put the non-key parts of AWS credentials.
EXTRA_SECRET, EXTRA_REGION, EXTRA_SESSION_TOKEN = "aws_secret_access_key", "aws_region", "aws_session_token"

# The model is the engine. [3P transcript of aws.amazon.com/polly/pricing, 2026-10-07], USD per 1M characters.
ENGINES = ("standard", "neural", "long-form", "generative")
_ENGINE_PRICES = {"standard": "4.00", "neural": "16.00", "long-form": "100.00", "generative": "30.00"}
PRICES = PriceTable(
    as_of="2026-10-07",
    prices={
        **{engine: {Unit.CHARACTER: per_million(usd)} for engine, usd in _ENGINE_PRICES.items()},
        "*": {Unit.CHARACTER: per_million(_ENGINE_PRICES["neural"])},
    },
)

MP3_RATES = frozenset({8000, 16000, 22050, 24000})
PCM_RATES = frozenset({8000, 16000})
DEFAULT_PCM_RATE = 16000
POLLY_FORMATS = {"mp3": "mp3", "pcm": "pcm", "wav": "pcm"}  # our format → OutputFormat
# A 2xx must carry the audio we asked for, not JSON speech marks or an error page.
EXPECTED_CONTENT_TYPES = {"mp3": "audio/mpeg", "pcm": "audio/pcm"}
STREAMING_WAV_SIZE = 0xFFFFFFFF  # a streamed WAV's length is unknown when its header is sent

# primary language (or locale) → (LanguageCode, female voice, male voice); all have neural (and standard) versions.
LANGUAGE_VOICES: Mapping[str, tuple[str, str, str]] = {
    "en": ("en-US", "Joanna", "Matthew"),
    "en-gb": ("en-GB", "Amy", "Brian"),
    "es": ("es-ES", "Lucia", "Sergio"),
    "es-us": ("es-US", "Lupe", "Pedro"),
    "de": ("de-DE", "Vicki", "Daniel"),
    "fr": ("fr-FR", "Lea", "Remi"),
    "it": ("it-IT", "Bianca", "Adriano"),
    "pt": ("pt-BR", "Camila", "Thiago"),
    "ja": ("ja-JP", "Kazuha", "Takumi"),
}
ALIASES = ("female", "male", "neutral")

# Error type → class (the status alone misleads: a throttle may be a 400). Unlisted types fall back to the status.
_TYPES_BY_CLASS = {
    ErrorClass.RATE_LIMITED: "ThrottlingException TooManyRequestsException RequestLimitExceeded",
    ErrorClass.SERVER: "ServiceFailureException ServiceUnavailable ServiceUnavailableException InternalFailure",
    ErrorClass.AUTH: "UnrecognizedClientException InvalidSignatureException SignatureDoesNotMatch IncompleteSignature "
    "MissingAuthenticationToken AccessDeniedException ExpiredTokenException InvalidClientTokenId",
    ErrorClass.INVALID_INPUT: "TextLengthExceededException InvalidSsmlException ValidationException "
    "MarksNotSupportedForFormatException SsmlMarksNotSupportedForTextTypeException",
    ErrorClass.UNSUPPORTED: "LexiconNotFoundException EngineNotSupportedException LanguageNotSupportedException "
    "InvalidSampleRateException",
}
ERROR_CLASSES: Mapping[str, ErrorClass] = {
    name: error_class for error_class, names in _TYPES_BY_CLASS.items() for name in names.split()
}


def unsupported(message: str) -> ProviderError:
    return ProviderError(PROVIDER_ID, ErrorClass.UNSUPPORTED, message)


def malformed(message: str) -> ProviderError:
    return ProviderError(PROVIDER_ID, ErrorClass.MALFORMED, message)


# -- pure wire format --------------------------------------------------------------------------------------------
def engine_for(request: SynthesisRequest, default: str) -> str:
    """The requested engine; another vendor's model name is ignored (a failover keeps the request)."""
    return request.model if request.model in ENGINES else default


def sample_rate_for(request: SynthesisRequest) -> int | None:
    rate = request.sample_rate
    if request.format == "mp3":
        if rate is not None and rate not in MP3_RATES:
            raise unsupported(f"Polly mp3 has no {rate} Hz")
        return rate
    if request.format in ("pcm", "wav"):
        rate = rate or DEFAULT_PCM_RATE
        if rate not in PCM_RATES:
            raise unsupported(f"Polly pcm is 8000 or 16000 Hz, not {rate}")
        return rate
    raise unsupported(f"Polly cannot produce {request.format}")


def language_entry(language: str | None) -> tuple[str, str, str] | None:
    if not language:
        return None
    code = language.replace("_", "-").lower()
    return LANGUAGE_VOICES.get(code) or LANGUAGE_VOICES.get(code.split("-")[0])


def language_code(language: str | None) -> str | None:
    """Polly's LanguageCode (``en-US``) for a locale or a primary language we have voices for."""
    if not language:
        return None
    parts = language.replace("_", "-").split("-")
    if len(parts) == 2 and len(parts[1]) == 2:
        return f"{parts[0].lower()}-{parts[1].upper()}"
    entry = language_entry(language)
    return entry[0] if entry else None


def voice_and_language(voice: str | None, language: str | None) -> tuple[str, str | None]:
    """(VoiceId, LanguageCode). A named voice is used as given, with the requested locale (bilingual voices need
    it); an alias (or none) becomes the female/male voice of the language, with that voice's own locale."""
    alias = (voice or "female").lower()
    if alias not in ALIASES:
        return voice or "", language_code(language)
    entry = language_entry(language) if language else LANGUAGE_VOICES["en"]
    if entry is None:
        raise unsupported(f"no Polly voice configured for language {language}")
    return (entry[2] if alias == "male" else entry[1]), (entry[0] if language else None)


def speech_text(request: SynthesisRequest) -> tuple[str, str]:
    """(Text, TextType): speed needs SSML prosody (tags are not billed characters)."""
    if request.speed is None or request.speed == 1.0:
        return request.text, "text"
    percent = round(min(2.0, max(0.2, request.speed)) * 100)
    return f'<speak><prosody rate="{percent}%">{html.escape(request.text, quote=False)}</prosody></speak>', "ssml"


def speech_body(request: SynthesisRequest, engine: str) -> dict[str, Any]:
    text, text_type = speech_text(request)
    voice, code = voice_and_language(request.voice, request.language)
    body: dict[str, Any] = {
        "Engine": engine,
        "OutputFormat": POLLY_FORMATS.get(request.format, request.format),
        "Text": text,
        "TextType": text_type,
        "VoiceId": voice,
    }
    rate = sample_rate_for(request)
    if rate is not None:
        body["SampleRate"] = str(rate)  # a string in Polly's model
    if code:
        body["LanguageCode"] = code
    return body


def check_audio(request: SynthesisRequest, content_type: str | None) -> None:
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind != EXPECTED_CONTENT_TYPES[POLLY_FORMATS[request.format]]:
        raise malformed(f"expected {request.format} audio, got {kind or 'no content type'}")


def error_type(headers: Mapping[str, str], body: Any) -> str:
    """``x-amzn-ErrorType: ThrottlingException:http://…`` or body ``__type: com.amazonaws.polly#…``."""
    raw = headers.get("x-amzn-errortype") or ""
    if not raw and isinstance(body, dict):
        raw = str(body.get("__type") or body.get("code") or "")
    return raw.split(":")[0].rsplit("#", 1)[-1].strip()


def describe_error(headers: Mapping[str, str]) -> DescribeError:
    """The ``describe`` hook for one error response (the type may live in its ``x-amzn-ErrorType`` header)."""

    def describe(status: int, body: Any, text: str) -> tuple[str, ErrorClass | None]:
        kind = error_type(headers, body)
        message = (body.get("message") or body.get("Message")) if isinstance(body, dict) else None
        summary = ": ".join(str(part) for part in (kind, message or (text if body is None else "")) if part)
        return summary or f"HTTP {status}", ERROR_CLASSES.get(kind)

    return describe


# -- endpoint config -----------------------------------------------------------------------------------------------
def aws_credentials(creds: Credentials) -> tuple[str, str, str | None]:
    """(access key id, secret, session token). A stored key ``AKID:SECRET`` carries its own secret (AWS secrets never
    contain ':'), so it wins over the environment's secret and session token it may have been merged with."""
    access_key = creds.api_key or ""
    if ":" in access_key:
        access_key, secret = access_key.split(":", 1)
        return access_key, secret, None
    return access_key, creds.extra.get(EXTRA_SECRET) or "", creds.extra.get(EXTRA_SESSION_TOKEN) or None


def region_for(creds: Credentials) -> str:
    """The configured region, else the one in a ``polly.<region>.amazonaws.com`` base URL, else us-east-1."""
    if creds.extra.get(EXTRA_REGION):
        return creds.extra[EXTRA_REGION]
    match = re.match(r"^polly(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com$", urlsplit(creds.base_url).hostname or "")
    return match.group(1) if match else DEFAULT_REGION


def signed_request(call: Call, method: str, path: str, query: str = "", body: bytes = b"") -> dict[str, Any]:
    """``send``/``open_stream`` arguments for one SigV4-signed request."""
    creds = call.credentials
    access_key, secret, session_token = aws_credentials(creds)
    if not access_key or not secret:
        raise ProviderError(PROVIDER_ID, ErrorClass.AUTH, "AWS access key id and secret access key are required")
    url = creds.base_url.rstrip("/") + path + (f"?{query}" if query else "")
    headers = {"Content-Type": "application/json"} if body else {}
    signed = sign(
        method,
        url,
        headers,
        body,
        access_key=access_key,
        secret_key=secret,
        region=region_for(creds),
        service=SERVICE,
        session_token=session_token,
    )
    return {
        "method": method,
        "url": url,
        "headers": signed,
        "content": body or None,
        "timeout": call.timeout,
        "describe_for": describe_error,
    }


class PollyProvider(Provider):
    id = PROVIDER_ID
    capabilities = frozenset({Capability.TTS})
    prices = PRICES
    tts_formats = frozenset({"mp3", "wav", "pcm"})
    tts_sample_rates: ClassVar[Mapping[str, frozenset[int]]] = {"mp3": MP3_RATES, "pcm": PCM_RATES, "wav": PCM_RATES}
    max_text_length = 3000  # billed characters per request (6,000 including SSML tags)
    default_tts_model = "neural"
    default_voice = "Joanna"
    voice_aliases: ClassVar[Mapping[str, str]] = {"female": "Joanna", "male": "Matthew", "neutral": "Joanna"}
    env_key = "AWS_ACCESS_KEY_ID"
    env_base_url = "POLLY_BASE_URL"
    default_base_url = "https://polly.us-east-1.amazonaws.com"  # credentials_from_env uses AWS_REGION

    @classmethod
    def credentials_from_env(cls, env: Mapping[str, str]) -> Credentials | None:
        access_key, secret = env.get("AWS_ACCESS_KEY_ID"), env.get("AWS_SECRET_ACCESS_KEY")
        if not access_key or not secret:
            return None
        region = env.get("AWS_REGION") or DEFAULT_REGION
        extra = {EXTRA_SECRET: secret, EXTRA_REGION: region}
        if env.get("AWS_SESSION_TOKEN"):
            extra[EXTRA_SESSION_TOKEN] = env["AWS_SESSION_TOKEN"]
        base_url = env.get(cls.env_base_url) or f"https://polly.{region}.amazonaws.com"
        return Credentials(api_key=access_key, base_url=base_url.rstrip("/"), extra=extra)

    def supports_synthesis(self, request: SynthesisRequest) -> bool:
        if not super().supports_synthesis(request):
            return False
        named_voice = request.voice is not None and request.voice.lower() not in ALIASES
        return named_voice or not request.language or language_entry(request.language) is not None

    def _speech(self, call: Call, request: SynthesisRequest) -> tuple[str, dict[str, Any]]:
        engine = engine_for(request, self.default_tts_model or "neural")
        body = json.dumps(speech_body(request, engine)).encode()
        return engine, signed_request(call, "POST", SPEECH_PATH, body=body)

    async def synthesize(self, call: Call, request: SynthesisRequest) -> SynthesisResult:
        engine, prepared = self._speech(call, request)
        response = await send(call.http, PROVIDER_ID, **prepared)
        check_audio(request, response.headers.get("content-type"))
        audio = response.content
        characters = billed_characters(response.headers, "x-amzn-requestcharacters", request.text)
        if not audio:
            raise malformed("empty audio body")
        rate = sample_rate_for(request)
        if request.format == "wav":
            audio = wav_from_pcm(audio, rate or DEFAULT_PCM_RATE)
        media = f"audio/pcm; rate={rate}" if request.format == "pcm" else None
        return SynthesisResult(
            audio=audio,
            content_type=AUDIO_CONTENT_TYPES[request.format],
            model=engine,
            characters=characters,
            duration_media_type=media,
        )

    async def stream_synthesis(self, call: Call, request: SynthesisRequest) -> AsyncIterator[bytes]:
        _, prepared = self._speech(call, request)
        async with open_stream(call.http, PROVIDER_ID, **prepared) as response:
            check_audio(request, response.headers.get("content-type"))
            if request.format == "wav":  # length unknown yet: the streaming-size WAV header players accept
                header = wav_from_pcm(b"", sample_rate_for(request) or DEFAULT_PCM_RATE)
                unknown = STREAMING_WAV_SIZE.to_bytes(4, "little")
                yield header[:4] + unknown + header[8:40] + unknown
            async for chunk in iter_body(PROVIDER_ID, response):
                yield chunk

    async def probe(self, call: Call) -> None:
        voices_request = signed_request(call, "GET", VOICES_PATH, "Engine=neural&LanguageCode=en-US")
        body = parse_json(PROVIDER_ID, await send(call.http, PROVIDER_ID, **voices_request))
        voices = body.get("Voices") if isinstance(body, dict) else None
        if not isinstance(voices, list):
            raise malformed("DescribeVoices response has no Voices list")

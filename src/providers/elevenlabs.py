"""ElevenLabs: text-to-speech (``POST /v1/text-to-speech/{voice_id}[/stream]``) and Scribe speech-to-text
(``POST /v1/speech-to-text``, multipart).

Wire format: reference/providers.md §3. Auth is the ``xi-api-key`` header. Errors are ``{"detail": {"status",
"message"}}`` (the ``status`` code decides the class: a 429 may be a concurrency limit or a busy system, a 401 may be
an exhausted quota) or a 422 validation list ``{"detail": [{"loc", "msg", "type"}]}``.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Mapping
from decimal import Decimal
from typing import Any, ClassVar
from urllib.parse import quote

from gateway.errors import ErrorClass, ProviderError
from providers.base import (
    Call,
    Capability,
    PriceTable,
    Provider,
    SynthesisRequest,
    SynthesisResult,
    TranscriptionRequest,
    TranscriptionResult,
    Unit,
    Word,
    per_million,
)
from providers.http import open_stream, parse_json, send
from providers.tts_response import audio_chunks, audio_result, pcm_duration_media_type

PROVIDER_ID = "elevenlabs"
TTS_PATH = "/v1/text-to-speech/{voice_id}"
STT_PATH = "/v1/speech-to-text"
PROBE_PATH = "/v1/models"

MP3_OUTPUTS: Mapping[int, str] = {22050: "mp3_22050_32", 24000: "mp3_24000_48", 44100: "mp3_44100_128"}
PCM_RATES = frozenset({8000, 16000, 22050, 24000, 32000, 44100, 48000})
DEFAULT_PCM_RATE = 24000  # 44.1 kHz pcm/wav needs a Pro plan; 24 kHz works on every plan
OPUS_OUTPUT = "opus_48000_64"

# Models that take ``language_code`` (others reject it: multilingual v2 detects the language itself).
LANGUAGE_CODE_MODELS = frozenset({"eleven_flash_v2_5", "eleven_turbo_v2_5", "eleven_v3"})
ENGLISH_ONLY_MODELS = frozenset({"eleven_flash_v2", "eleven_turbo_v2", "eleven_monolingual_v1"})

# [3P developer.puter.com, Jun 2026] (providers.md §3): Flash/Turbo $0.05/1k chars, Multilingual v2/v3 $0.10/1k
# chars, Scribe $0.22/hour.
FLASH_PER_CHAR = per_million("50.00")
MULTILINGUAL_PER_CHAR = per_million("100.00")
SCRIBE_PER_SECOND = Decimal("0.22") / 3600
PRICES = PriceTable(
    as_of="2026-06-01",
    prices={
        **{m: {Unit.CHARACTER: FLASH_PER_CHAR} for m in ("eleven_flash_v2_5", "eleven_flash_v2")},
        **{m: {Unit.CHARACTER: FLASH_PER_CHAR} for m in ("eleven_turbo_v2_5", "eleven_turbo_v2")},
        **{m: {Unit.CHARACTER: MULTILINGUAL_PER_CHAR} for m in ("eleven_multilingual_v2", "eleven_v3")},
        **{m: {Unit.AUDIO_SECOND: SCRIBE_PER_SECOND} for m in ("scribe_v1", "scribe_v2")},
        "*": {Unit.CHARACTER: MULTILINGUAL_PER_CHAR, Unit.AUDIO_SECOND: SCRIBE_PER_SECOND},
    },
)

# detail.status → class, where the HTTP status alone would mislead (quota_exceeded arrives as 401,
# system_busy as 429 but is the vendor's own overload).
STATUS_CLASSES: Mapping[str, ErrorClass] = {
    "invalid_api_key": ErrorClass.AUTH,
    "quota_exceeded": ErrorClass.QUOTA,
    "too_many_concurrent_requests": ErrorClass.RATE_LIMITED,
    "system_busy": ErrorClass.SERVER,
    "voice_not_found": ErrorClass.UNSUPPORTED,
    "max_character_limit_exceeded": ErrorClass.INVALID_INPUT,
}

AUDIO_FILENAMES = {
    "audio/wav": "audio.wav",
    "audio/x-wav": "audio.wav",
    "audio/mpeg": "audio.mp3",
    "audio/ogg": "audio.ogg",
}


def unsupported(message: str) -> ProviderError:
    return ProviderError(PROVIDER_ID, ErrorClass.UNSUPPORTED, message)


def malformed(message: str) -> ProviderError:
    return ProviderError(PROVIDER_ID, ErrorClass.MALFORMED, message)


def primary_language(language: str | None) -> str | None:
    return language.replace("_", "-").split("-")[0].lower() if language else None


# -- pure wire format: text-to-speech ---------------------------------------------------------------------------
def output_format(request: SynthesisRequest) -> str:
    rate = request.sample_rate
    if request.format == "mp3" and (rate or 44100) in MP3_OUTPUTS:
        return MP3_OUTPUTS[rate or 44100]
    if request.format in ("pcm", "wav") and (rate or DEFAULT_PCM_RATE) in PCM_RATES:
        return f"{request.format}_{rate or DEFAULT_PCM_RATE}"
    if request.format == "opus" and rate in (None, 48000):
        return OPUS_OUTPUT
    raise unsupported(f"no ElevenLabs output format for {request.format} at {rate} Hz")


def tts_model(request: SynthesisRequest, default: str) -> str:
    """The requested model when it is an ElevenLabs one (another vendor's model name is ignored here)."""
    model = request.model if request.model and request.model.startswith("eleven_") else default
    language = primary_language(request.language)
    if model in ENGLISH_ONLY_MODELS and language not in (None, "en"):
        raise unsupported(f"{model} speaks English only")
    return model


def speech_body(request: SynthesisRequest, model: str) -> dict[str, Any]:
    body: dict[str, Any] = {"text": request.text, "model_id": model}
    language = primary_language(request.language)
    if language and model in LANGUAGE_CODE_MODELS:
        body["language_code"] = language
    if request.speed is not None:
        body["voice_settings"] = {"speed": request.speed}
    return body


# -- pure wire format: speech-to-text ---------------------------------------------------------------------------
def transcription_form(request: TranscriptionRequest, model: str) -> dict[str, str]:
    form = {
        "model_id": model,
        "diarize": "true" if request.diarize else "false",
        "timestamps_granularity": "word",
        "tag_audio_events": "false",  # our transcripts carry speech only
    }
    if request.language:
        form["language_code"] = request.language
    return form


def parse_transcription(body: Any, request: TranscriptionRequest, model: str) -> TranscriptionResult:
    if not isinstance(body, dict) or not isinstance(body.get("text"), str):
        raise malformed("speech-to-text response has no text")
    try:
        words = [
            Word(
                word=str(w["text"]),
                start=float(w["start"]),
                end=float(w["end"]),
                confidence=math.exp(w["logprob"]) if isinstance(w.get("logprob"), (int, float)) else None,
                speaker=w.get("speaker_id"),
            )
            for w in body.get("words") or []
            if w.get("type", "word") == "word"  # spacing and audio events are not words
        ]
    except (KeyError, TypeError, ValueError, AttributeError):
        raise malformed("speech-to-text response has unreadable words") from None
    confidences = [w.confidence for w in words if w.confidence is not None]
    duration = body.get("audio_duration_secs")
    if not isinstance(duration, (int, float)):
        # Not reported: the gateway's own measurement, else the end of the last word the vendor timed.
        duration = request.duration if request.duration is not None else max((w.end for w in words), default=0.0)
    return TranscriptionResult(
        text=body["text"].strip(),
        words=words,
        confidence=sum(confidences) / len(confidences) if confidences else None,
        duration=float(duration),
        model=model,
        language=body.get("language_code") or request.language,
    )


# -- errors ----------------------------------------------------------------------------------------------------
def describe_error(status: int, body: Any, text: str) -> tuple[str, ErrorClass | None]:
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, list):  # 422 validation errors
        problems = [
            f"{'.'.join(str(part) for part in d.get('loc') or [])}: {d.get('msg', '')}"
            if isinstance(d, dict)
            else str(d)
            for d in detail
        ]
        return "; ".join(problems) or "validation error", ErrorClass.INVALID_INPUT
    if isinstance(detail, dict):
        code = str(detail.get("status") or detail.get("code") or "")
        summary = ": ".join(part for part in (code, str(detail.get("message") or "")) if part)
        return (summary or f"HTTP {status}"), STATUS_CLASSES.get(code)
    if isinstance(detail, str):
        return detail, None
    return (text or f"HTTP {status}"), None


class ElevenLabsProvider(Provider):
    id = PROVIDER_ID
    capabilities = frozenset({Capability.TTS, Capability.STT})
    prices = PRICES
    tts_formats = frozenset({"mp3", "wav", "pcm", "opus"})
    tts_sample_rates: ClassVar[Mapping[str, frozenset[int]]] = {
        "mp3": frozenset(MP3_OUTPUTS),
        "pcm": PCM_RATES,
        "wav": PCM_RATES,
        "opus": frozenset({48000}),
    }
    max_text_length = 10000  # Multilingual v2's per-request limit (Flash/Turbo v2.5 allow 40k)
    default_tts_model = "eleven_flash_v2_5"
    default_stt_model = "scribe_v1"
    default_voice = "21m00Tcm4TlvDq8ikWAM"  # Rachel
    voice_aliases: ClassVar[Mapping[str, str]] = {
        "female": "21m00Tcm4TlvDq8ikWAM",  # Rachel
        "male": "pNInz6obpgDQGcFmaJgB",  # Adam
        "neutral": "21m00Tcm4TlvDq8ikWAM",
    }
    env_key = "ELEVENLABS_API_KEY"
    env_base_url = "ELEVENLABS_BASE_URL"
    default_base_url = "https://api.elevenlabs.io"

    # -- endpoint config ---------------------------------------------------------------------------------------
    @staticmethod
    def _request(call: Call, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """Arguments shared by ``send`` and ``open_stream`` for one ElevenLabs endpoint."""
        url = call.credentials.base_url.rstrip("/") + path
        headers = {"xi-api-key": call.credentials.api_key or "", **kwargs.pop("headers", {})}
        return {
            "method": method,
            "url": url,
            "timeout": call.timeout,
            "describe": describe_error,
            "headers": headers,
            **kwargs,
        }

    def _speech(self, call: Call, request: SynthesisRequest, stream: bool) -> tuple[str, dict[str, Any]]:
        model = tts_model(request, self.default_tts_model or "eleven_flash_v2_5")
        voice = self.resolve_voice(request.voice) or self.default_voice or ""
        path = TTS_PATH.format(voice_id=quote(voice, safe="")) + ("/stream" if stream else "")
        params = {"output_format": output_format(request)}
        return model, self._request(call, "POST", path, params=params, json=speech_body(request, model))

    def supports_synthesis(self, request: SynthesisRequest) -> bool:
        if not super().supports_synthesis(request):
            return False
        model = request.model if request.model and request.model.startswith("eleven_") else self.default_tts_model
        return model not in ENGLISH_ONLY_MODELS or primary_language(request.language) in (None, "en")

    # -- operations --------------------------------------------------------------------------------------------
    async def synthesize(self, call: Call, request: SynthesisRequest) -> SynthesisResult:
        model, kwargs = self._speech(call, request, stream=False)
        response = await send(call.http, self.id, **kwargs)
        return audio_result(
            PROVIDER_ID,
            response,
            request,
            model=model,
            billed_header="character-cost",
            duration_media_type=pcm_duration_media_type(request, DEFAULT_PCM_RATE),
        )

    async def stream_synthesis(self, call: Call, request: SynthesisRequest) -> AsyncIterator[bytes]:
        _, kwargs = self._speech(call, request, stream=True)
        async with open_stream(call.http, self.id, **kwargs) as response:
            async for chunk in audio_chunks(self.id, response):
                yield chunk

    async def transcribe(self, call: Call, request: TranscriptionRequest) -> TranscriptionResult:
        model = request.model if request.model and request.model.startswith("scribe") else self.default_stt_model
        model = model or "scribe_v1"
        content_type = request.content_type or "application/octet-stream"
        filename = AUDIO_FILENAMES.get(content_type.split(";")[0].strip().lower(), "audio")
        upload = (filename, request.audio, content_type)
        kwargs = self._request(call, "POST", STT_PATH, data=transcription_form(request, model), files={"file": upload})
        response = await send(call.http, self.id, **kwargs)
        return parse_transcription(parse_json(self.id, response), request, model)

    async def probe(self, call: Call) -> None:
        await send(call.http, self.id, **self._request(call, "GET", PROBE_PATH))

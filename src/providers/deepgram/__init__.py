"""Deepgram: Aura text-to-speech (``POST /v1/speak``) and Nova speech-to-text (``POST /v1/listen``).

Wire format: reference/providers.md §2. Auth is ``Authorization: Token <key>``. An Aura "model" *is* the voice
(``aura-2-<voice>-<lang>``; Aura-1 is ``aura-<voice>-en``), so voice and language both decide the model name.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar

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

PROVIDER_ID = "deepgram"
SPEAK_PATH = "/v1/speak"
LISTEN_PATH = "/v1/listen"
PROBE_PATH = "/v1/projects"

STT_MODEL_FAMILIES = ("nova", "enhanced", "base")
LINEAR16_RATES = frozenset({8000, 16000, 24000, 32000, 48000})
DEFAULT_LINEAR16_RATE = 24000  # Deepgram's default for linear16; sent explicitly so the rate is never a guess

# Aura-2 voices per language: (female, male). Voices exist per language, so a gateway alias maps to the comparable
# voice *in the requested language* (aura-2-thalia-es does not exist). Names from Deepgram's published voice list.
AURA2_VOICES: Mapping[str, tuple[str, str]] = {
    "en": ("aura-2-thalia-en", "aura-2-orion-en"),
    "es": ("aura-2-celeste-es", "aura-2-nestor-es"),
    "de": ("aura-2-viktoria-de", "aura-2-julius-de"),
    "fr": ("aura-2-agathe-fr", "aura-2-hector-fr"),
    "it": ("aura-2-livia-it", "aura-2-dionisio-it"),
    "nl": ("aura-2-rhea-nl", "aura-2-sander-nl"),
    "ja": ("aura-2-izanami-ja", "aura-2-fujin-ja"),
}
ALIAS_GENDER = {"female": 0, "neutral": 0, "male": 1}


@dataclass(frozen=True)
class PrefixPriceTable(PriceTable):
    """Aura bills by model family, and every voice is its own model: match the longest listed prefix."""

    def for_model(self, model: str) -> Mapping[Unit, Decimal]:
        if model in self.prices:
            return self.prices[model]
        prefixes = [key for key in self.prices if key != "*" and model.startswith(key)]
        return self.prices[max(prefixes, key=len)] if prefixes else self.prices.get("*", {})


# Aura-1/Aura-2 from providers.md (3P api-evangelist, 2026-05-04). Nova-3: $0.0043/min pre-recorded (batch), the
# figure several 3P pricing pages cite for batch; the $0.0048 list figure in providers.md is flagged [UNCONF].
AURA1_PER_CHAR = per_million("15.00")
AURA2_PER_CHAR = per_million("30.00")
NOVA3_PER_SECOND = Decimal("0.0043") / 60
PRICES = PrefixPriceTable(
    as_of="2026-05-04",
    prices={
        "aura-2": {Unit.CHARACTER: AURA2_PER_CHAR},
        "aura-": {Unit.CHARACTER: AURA1_PER_CHAR},
        "nova-3": {Unit.AUDIO_SECOND: NOVA3_PER_SECOND},
        "*": {Unit.CHARACTER: AURA2_PER_CHAR, Unit.AUDIO_SECOND: NOVA3_PER_SECOND},
    },
)


def unsupported(message: str) -> ProviderError:
    return ProviderError(PROVIDER_ID, ErrorClass.UNSUPPORTED, message)


def malformed(message: str) -> ProviderError:
    return ProviderError(PROVIDER_ID, ErrorClass.MALFORMED, message)


def primary_language(language: str | None) -> str | None:
    """``en-US`` → ``en``: Aura model names carry only the primary subtag."""
    return language.replace("_", "-").split("-")[0].lower() if language else None


# -- pure wire format: text-to-speech ---------------------------------------------------------------------------
def speak_model(request: SynthesisRequest, resolved_voice: str) -> str:
    """The Aura model for this request (the model is the voice, in one language)."""
    language = primary_language(request.language)
    if language is not None and language not in AURA2_VOICES:
        raise unsupported(f"Aura has no voices for language {language!r}")
    alias = (request.voice or "").lower()
    # A full Aura model name given as the model (another vendor's model name is ignored here).
    explicit_model = request.model if request.model and request.model.lower().startswith("aura-") else None
    if not alias and explicit_model and explicit_model.count("-") >= 2:
        model = explicit_model.lower()
    elif not alias or alias in ALIAS_GENDER:
        return AURA2_VOICES[language or "en"][ALIAS_GENDER.get(alias, 0)]
    elif resolved_voice.startswith("aura-"):
        model = resolved_voice.lower()
    else:  # a bare voice name ("nestor"): Aura-2 in the requested language
        model = f"aura-2-{resolved_voice.lower()}-{language or 'en'}"
    if language is not None and model.rsplit("-", 1)[-1] != language:
        raise unsupported(f"voice {model} does not speak {language!r}")
    return model


def speak_params(request: SynthesisRequest, model: str) -> dict[str, str]:
    params = {"model": model}
    if request.format == "mp3":
        params["encoding"] = "mp3"  # fixed 22.05 kHz: Deepgram rejects sample_rate for mp3
    elif request.format in ("wav", "pcm"):
        params["encoding"] = "linear16"
        params["container"] = "wav" if request.format == "wav" else "none"
        params["sample_rate"] = str(request.sample_rate or DEFAULT_LINEAR16_RATE)
    elif request.format == "opus":
        params["encoding"] = "opus"
        params["container"] = "ogg"
    else:
        raise unsupported(f"format {request.format!r} is not supported")
    if request.speed is not None:
        params["speed"] = f"{request.speed:g}"
    return params


# -- pure wire format: speech-to-text ---------------------------------------------------------------------------
def stt_model(request: TranscriptionRequest, default: str) -> str:
    """The requested model when it is a Deepgram one; another vendor's model name (``whisper-1``) is ignored."""
    model = request.model or ""
    return model if model.startswith(STT_MODEL_FAMILIES) else default


def listen_params(request: TranscriptionRequest, model: str) -> dict[str, str]:
    flag = {True: "true", False: "false"}
    params = {
        "model": model,
        "punctuate": flag[request.punctuate],
        "smart_format": flag[request.punctuate],  # smart_format implies punctuation, so it follows punctuate
        "diarize": flag[request.diarize],
    }
    if request.language:
        params["language"] = request.language
    return params


def parse_listen(body: Any, request: TranscriptionRequest, model: str) -> TranscriptionResult:
    try:
        channel = body["results"]["channels"][0]
        alternative = channel["alternatives"][0]
        text = str(alternative.get("transcript") or "")
        words = [
            Word(
                word=str(w.get("punctuated_word") or w["word"]),
                start=float(w["start"]),
                end=float(w["end"]),
                confidence=w.get("confidence"),
                speaker=w.get("speaker"),
            )
            for w in alternative.get("words") or []
        ]
    except (KeyError, IndexError, TypeError, ValueError, AttributeError):
        raise malformed("listen response has no results.channels[0].alternatives[0]") from None
    metadata = body.get("metadata") if isinstance(body.get("metadata"), dict) else {}
    duration = metadata.get("duration")
    if not isinstance(duration, (int, float)):
        duration = request.duration
    if duration is None:
        raise malformed("listen response reports no metadata.duration")
    return TranscriptionResult(
        text=text,
        words=words,
        confidence=alternative.get("confidence"),
        duration=float(duration),
        model=model,
        language=channel.get("detected_language") or request.language,
    )


# -- errors ----------------------------------------------------------------------------------------------------
def describe_error(status: int, body: Any, text: str) -> tuple[str, ErrorClass | None]:
    """Deepgram has three error bodies: legacy ``err_code/err_msg``, modern ``category/message/details``, and the
    503 ``error_code`` variant. Payment (402 ``ASR_PAYMENT_REQUIRED``) is QUOTA; an unknown model is UNSUPPORTED."""
    if not isinstance(body, dict):
        return (text or f"HTTP {status}"), None
    code = str(body.get("err_code") or body.get("category") or body.get("error_code") or "")
    message = str(body.get("err_msg") or body.get("message") or body.get("error_message") or body.get("details") or "")
    override = None
    if status == 402 or code.upper() == "ASR_PAYMENT_REQUIRED":
        override = ErrorClass.QUOTA
    elif status == 400 and "no such model" in message.lower():
        override = ErrorClass.UNSUPPORTED
    summary = ": ".join(part for part in (code, message) if part)
    return (summary or text or f"HTTP {status}"), override


class DeepgramProvider(Provider):
    id = PROVIDER_ID
    capabilities = frozenset({Capability.TTS, Capability.STT})
    prices = PRICES
    tts_formats = frozenset({"mp3", "wav", "pcm", "opus"})
    tts_sample_rates: ClassVar[Mapping[str, frozenset[int]]] = {
        "wav": LINEAR16_RATES,
        "pcm": LINEAR16_RATES,
        "mp3": frozenset({22050}),
        "opus": frozenset({48000}),
    }
    max_text_length = 2000
    default_tts_model = "aura-2-thalia-en"
    default_stt_model = "nova-3"
    default_voice = "aura-2-thalia-en"
    voice_aliases: ClassVar[Mapping[str, str]] = {
        "female": "aura-2-thalia-en",
        "male": "aura-2-orion-en",
        "neutral": "aura-2-thalia-en",
    }
    env_key = "DEEPGRAM_API_KEY"
    env_base_url = "DEEPGRAM_BASE_URL"
    default_base_url = "https://api.deepgram.com"

    # -- endpoint config ---------------------------------------------------------------------------------------
    @staticmethod
    def _headers(call: Call, content_type: str | None = None) -> dict[str, str]:
        headers = {"Authorization": f"Token {call.credentials.api_key or ''}"}
        if content_type:
            headers["Content-Type"] = content_type
        return headers

    # Realtime routes (/voice/realtime, /voice/speak-stream): imported on first use, not with the HTTP adapter.
    @property
    def listen_routes(self) -> tuple[Any, ...]:
        from providers.deepgram.realtime import LISTEN_ROUTES

        return LISTEN_ROUTES

    @property
    def speak_routes(self) -> tuple[Any, ...]:
        from providers.deepgram.realtime import SPEAK_ROUTES

        return SPEAK_ROUTES

    def _request(self, call: Call, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """Arguments shared by ``send`` and ``open_stream`` for one Deepgram endpoint."""
        url = call.credentials.base_url.rstrip("/") + path
        return {"method": method, "url": url, "timeout": call.timeout, "describe": describe_error, **kwargs}

    def _speak(self, call: Call, request: SynthesisRequest) -> tuple[str, dict[str, Any]]:
        model = speak_model(request, self.resolve_voice(request.voice) or self.default_voice or "")
        return model, self._request(
            call,
            "POST",
            SPEAK_PATH,
            params=speak_params(request, model),
            headers=self._headers(call, "application/json"),
            json={"text": request.text},
        )

    def supports_synthesis(self, request: SynthesisRequest) -> bool:
        language = primary_language(request.language)
        return super().supports_synthesis(request) and (language is None or language in AURA2_VOICES)

    # -- operations --------------------------------------------------------------------------------------------
    async def synthesize(self, call: Call, request: SynthesisRequest) -> SynthesisResult:
        model, kwargs = self._speak(call, request)
        response = await send(call.http, self.id, **kwargs)
        return audio_result(
            PROVIDER_ID,
            response,
            request,
            model=model,
            billed_header="dg-char-count",
            duration_media_type=pcm_duration_media_type(request, DEFAULT_LINEAR16_RATE),
        )

    async def stream_synthesis(self, call: Call, request: SynthesisRequest) -> AsyncIterator[bytes]:
        _, kwargs = self._speak(call, request)
        async with open_stream(call.http, self.id, **kwargs) as response:
            async for chunk in audio_chunks(self.id, response):
                yield chunk

    async def transcribe(self, call: Call, request: TranscriptionRequest) -> TranscriptionResult:
        model = stt_model(request, self.default_stt_model or "nova-3")
        kwargs = self._request(
            call,
            "POST",
            LISTEN_PATH,
            params=listen_params(request, model),
            headers=self._headers(call, request.content_type or "application/octet-stream"),
            content=request.audio,
        )
        response = await send(call.http, self.id, **kwargs)
        return parse_listen(parse_json(self.id, response), request, model)

    async def probe(self, call: Call) -> None:
        await send(call.http, self.id, **self._request(call, "GET", PROBE_PATH, headers=self._headers(call)))

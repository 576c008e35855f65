"""Google Cloud Text-to-Speech (``text:synthesize``) and Speech-to-Text v1 (``speech:recognize``) over REST.

Wire formats: reference/providers.md §4. Both APIs take the API key in ``X-Goog-Api-Key`` and report errors as
``{"error": {"code", "message", "status", "details": [...]}}``; the retry delay is ``RetryInfo.retryDelay`` in that
body (read by ``providers.http.retry_after_seconds``). TTS and STT live on different hosts, so the STT base URL
travels in ``Credentials.extra["stt_base_url"]``. Streaming for both is gRPC-only, so ``stream_synthesis`` is the
base class's single chunk.
"""

from __future__ import annotations

import base64
import binascii
import struct
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, ClassVar

from gateway.audio import sniff_format
from gateway.errors import ErrorClass, ProviderError
from providers.base import (
    AUDIO_CONTENT_TYPES,
    Call,
    Capability,
    Credentials,
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
from providers.http import parse_json, send

DEFAULT_TTS_BASE_URL = "https://texttospeech.googleapis.com"
DEFAULT_STT_BASE_URL = "https://speech.googleapis.com"
MAX_TEXT_BYTES = 5000  # input.text limit is in UTF-8 bytes, not characters
MAX_SYNC_SECONDS = 60.0  # speech:recognize is for ≤ 1 min; longer audio needs longrunningrecognize
SPEAKING_RATE_RANGE = (0.25, 4.0)

TTS_ENCODINGS = {"mp3": "MP3", "wav": "LINEAR16", "pcm": "PCM", "opus": "OGG_OPUS"}  # LINEAR16 carries a WAV header
OPUS_RATES = frozenset({8000, 12000, 16000, 24000, 48000})  # the only rates an Opus stream can declare

# Voice families, most specific first: a voice name is "<locale>-<family>-<variant>", e.g. en-US-Chirp3-HD-Achernar.
VOICE_FAMILIES = ("Chirp3-HD", "Neural2", "Wavenet", "Standard")
DEFAULT_FAMILY_KEY = "*"

# google.rpc status → our class, where it differs from what the HTTP status alone says.
STATUS_CLASSES = {
    "RESOURCE_EXHAUSTED": ErrorClass.RATE_LIMITED,
    "PERMISSION_DENIED": ErrorClass.AUTH,
    "UNAUTHENTICATED": ErrorClass.AUTH,
    "UNAVAILABLE": ErrorClass.SERVER,
    "INTERNAL": ErrorClass.SERVER,
    "DEADLINE_EXCEEDED": ErrorClass.TIMEOUT,
}


# -- errors (shared with the Gemini adapter) ---------------------------------------------------------------------
def describe_google_error(status: int, body: Any, text: str) -> tuple[str, ErrorClass | None]:
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return (text or f"HTTP {status}"), None
    rpc_status = str(error.get("status") or "")
    message = f"{rpc_status}: {error.get('message') or ''}".strip(": ")
    # A wrong API key is a 400 INVALID_ARGUMENT whose ErrorInfo reason is API_KEY_INVALID [UNCONF: observed
    # behaviour, not in providers.md]; it is a credentials problem, not bad input.
    for detail in error.get("details") or []:
        if isinstance(detail, dict) and detail.get("reason") == "API_KEY_INVALID":
            return message, ErrorClass.AUTH
    return message, STATUS_CLASSES.get(rpc_status)


def parse_duration(value: Any) -> float | None:
    """protobuf Duration JSON: ``"1.300s"`` → 1.3."""
    if not isinstance(value, str) or not value.endswith("s"):
        return None
    try:
        return float(value[:-1])
    except ValueError:
        return None


# -- text-to-speech wire format ----------------------------------------------------------------------------------
def voice_family(voice_name: str) -> str:
    """The price family of a voice name (``en-US-Neural2-F`` → ``Neural2``); ``*`` when unrecognised."""
    lowered = voice_name.lower()
    for family in VOICE_FAMILIES:
        if f"-{family.lower()}-" in f"{lowered}-":
            return family
    return DEFAULT_FAMILY_KEY


def locale_of(voice_name: str) -> str | None:
    parts = voice_name.split("-")
    return f"{parts[0]}-{parts[1]}" if len(parts) >= 3 else None


def synthesis_payload(request: SynthesisRequest, voice_name: str) -> dict[str, Any]:
    language = request.language or locale_of(voice_name) or "en-US"
    audio_config: dict[str, Any] = {"audioEncoding": TTS_ENCODINGS[request.format]}
    if request.sample_rate:
        audio_config["sampleRateHertz"] = request.sample_rate
    if request.speed is not None:
        audio_config["speakingRate"] = request.speed
    return {
        "input": {"text": request.text},
        "voice": {"languageCode": language, "name": voice_name},
        "audioConfig": audio_config,
    }


def decode_audio_content(provider: str, body: Any) -> bytes:
    content = body.get("audioContent") if isinstance(body, dict) else None
    if not isinstance(content, str):
        raise ProviderError(provider, ErrorClass.MALFORMED, "response has no audioContent")
    try:
        return base64.b64decode(content, validate=True)
    except (binascii.Error, ValueError):
        raise ProviderError(provider, ErrorClass.MALFORMED, "audioContent is not valid base64") from None


def duration_media_type(fmt: str, sample_rate: int | None) -> str | None:
    """How to measure the audio later: from its own headers; raw PCM (16-bit mono) only when the rate is known."""
    if fmt == "pcm":
        return f"audio/L16; rate={sample_rate}" if sample_rate else "audio/L16"
    return AUDIO_CONTENT_TYPES[fmt]


# -- speech-to-text wire format ----------------------------------------------------------------------------------
def wav_header(audio: bytes) -> tuple[int, int] | None:
    """(sample rate, channels) of an integer-PCM WAV, walking RIFF chunks; None for anything else."""
    if len(audio) < 12 or audio[:4] != b"RIFF" or audio[8:12] != b"WAVE":
        return None
    pos, rate, channels = 12, 0, 0
    while pos + 8 <= len(audio):
        chunk_id, size = audio[pos : pos + 4], struct.unpack_from("<I", audio, pos + 4)[0]
        if chunk_id == b"fmt " and pos + 16 <= len(audio):
            tag, channels, rate = struct.unpack_from("<HHI", audio, pos + 8)
            if tag not in (1, 0xFFFE):  # PCM or WAVE_FORMAT_EXTENSIBLE; μ-law etc. Google reads from the header
                return None
        elif chunk_id == b"data":
            return (rate, channels) if rate else None
        pos += 8 + size + (size & 1)
    return None


def _opus_input_rate(audio: bytes) -> int:
    """The OpusHead input sample rate when it is one Google accepts; else 48 kHz (Opus always decodes at 48k)."""
    head = audio.find(b"OpusHead", 0, 512)
    if head >= 0 and head + 16 <= len(audio):
        rate = struct.unpack_from("<I", audio, head + 12)[0]
        if rate in OPUS_RATES:
            return rate
    return 48000


MEDIA_KINDS = {
    "audio/wav": "wav", "audio/x-wav": "wav", "audio/wave": "wav", "audio/vnd.wave": "wav",
    "audio/flac": "flac", "audio/x-flac": "flac", "audio/mpeg": "mp3", "audio/mp3": "mp3",
    "audio/ogg": "ogg", "audio/opus": "ogg", "audio/webm": "webm", "video/webm": "webm",
}  # fmt: skip


def _media_kind(content_type: str, audio: bytes) -> str | None:
    """The container, from the declared type or (application/octet-stream) the audio's magic bytes."""
    return MEDIA_KINDS.get(content_type.split(";")[0].strip().lower()) or sniff_format(audio)


def recognition_config(request: TranscriptionRequest, model: str) -> dict[str, Any]:
    kind = _media_kind(request.content_type, request.audio)
    config: dict[str, Any] = {}
    if kind == "wav":
        header = wav_header(request.audio)
        if header:  # Google rejects a sampleRateHertz that disagrees with the header, so send the header's
            config.update(encoding="LINEAR16", sampleRateHertz=header[0])
            if header[1] > 1:
                config["audioChannelCount"] = header[1]
    elif kind == "flac":
        config["encoding"] = "FLAC"
    elif kind == "mp3":
        config["encoding"] = "MP3"
    elif kind == "ogg":
        config.update(encoding="OGG_OPUS", sampleRateHertz=_opus_input_rate(request.audio))
    elif kind == "webm":
        config.update(encoding="WEBM_OPUS", sampleRateHertz=48000)
    else:
        raise ProviderError("google", ErrorClass.UNSUPPORTED, f"unsupported audio type {request.content_type!r}")
    config.update(
        languageCode=request.language or "en-US",
        enableAutomaticPunctuation=request.punctuate,
        enableWordTimeOffsets=True,
        model=model,
    )
    return config


def parse_recognition(body: Any, request: TranscriptionRequest, model: str) -> TranscriptionResult:
    try:
        return _parse_recognition(body, request, model)
    except (AttributeError, TypeError, ValueError, IndexError):
        raise ProviderError("google", ErrorClass.MALFORMED, "unexpected speech:recognize response") from None


def _parse_recognition(body: Any, request: TranscriptionRequest, model: str) -> TranscriptionResult:
    results = body.get("results", [])
    if not isinstance(results, list):
        raise TypeError("results is not a list")
    transcripts, words, confidences, language, end = [], [], [], None, 0.0
    for result in results:
        alternatives = result.get("alternatives") if isinstance(result, dict) else None
        if not alternatives or not isinstance(alternatives[0], dict):
            continue
        best = alternatives[0]
        if best.get("transcript"):
            transcripts.append(str(best["transcript"]).strip())
        if isinstance(best.get("confidence"), (int, float)):
            confidences.append(float(best["confidence"]))
        for word in best.get("words") or []:
            words.append(
                Word(
                    word=str(word.get("word", "")),
                    start=parse_duration(word.get("startTime")) or 0.0,
                    end=parse_duration(word.get("endTime")) or 0.0,
                    confidence=word.get("confidence"),
                )
            )
        language = result.get("languageCode") or language
        end = max(end, parse_duration(result.get("resultEndTime")) or 0.0)
    # Billed time as Google reports it; else what the gateway measured; else where the last result ended.
    billed = parse_duration(body.get("totalBilledTime"))
    duration = billed if billed is not None else request.duration if request.duration is not None else end
    return TranscriptionResult(
        text=" ".join(t for t in transcripts if t),
        words=words,
        confidence=sum(confidences) / len(confidences) if confidences else None,
        duration=duration,
        model=model,
        language=language or request.language,
    )


# -- adapter ---------------------------------------------------------------------------------------------------------
class GoogleProvider(Provider):
    id = "google"
    capabilities = frozenset({Capability.TTS, Capability.STT})
    # [UNCONF] list prices recorded in providers.md §4 ("not found in official stored copy"), USD per 1M characters /
    # per minute. WaveNet is quoted there as "$4–16"; we take $4, Google's current WaveNet list price as we know it.
    # Unrecognised families are charged like Neural2.
    prices = PriceTable(
        as_of="2026-08-21",
        prices={
            "Standard": {Unit.CHARACTER: per_million("4.00")},
            "Wavenet": {Unit.CHARACTER: per_million("4.00")},
            "Neural2": {Unit.CHARACTER: per_million("16.00")},
            "Chirp3-HD": {Unit.CHARACTER: per_million("30.00")},
            "latest_long": {Unit.AUDIO_SECOND: Decimal("0.016") / 60},
            "*": {Unit.CHARACTER: per_million("16.00"), Unit.AUDIO_SECOND: Decimal("0.016") / 60},
        },
    )
    tts_formats = frozenset(TTS_ENCODINGS)
    tts_sample_rates: ClassVar[Mapping[str, frozenset[int]]] = {
        "opus": OPUS_RATES
    }  # LINEAR16/PCM/MP3: Google resamples to any requested rate
    max_text_length = MAX_TEXT_BYTES
    default_tts_model = "Neural2"
    default_stt_model = "latest_long"
    default_voice = "en-US-Neural2-F"
    voice_aliases: ClassVar[Mapping[str, str]] = {
        "female": "en-US-Neural2-F",
        "male": "en-US-Neural2-D",
        "neutral": "en-US-Neural2-C",
    }
    env_key = "GOOGLE_API_KEY"
    env_base_url = "GOOGLE_TTS_BASE_URL"
    default_base_url = DEFAULT_TTS_BASE_URL

    @classmethod
    def credentials_from_env(cls, env: Mapping[str, str]) -> Credentials | None:
        base = super().credentials_from_env(env)
        if base is None:
            return None
        stt = (env.get("GOOGLE_STT_BASE_URL") or DEFAULT_STT_BASE_URL).rstrip("/")
        return Credentials(api_key=base.api_key, base_url=base.base_url, extra={"stt_base_url": stt})

    @staticmethod
    def _headers(call: Call) -> dict[str, str]:
        return {"X-Goog-Api-Key": call.credentials.api_key or ""}

    @staticmethod
    def _stt_base(call: Call) -> str:
        return (call.credentials.extra.get("stt_base_url") or DEFAULT_STT_BASE_URL).rstrip("/")

    def supports_synthesis(self, request: SynthesisRequest) -> bool:
        if not super().supports_synthesis(request) or len(request.text.encode("utf-8")) > MAX_TEXT_BYTES:
            return False
        low, high = SPEAKING_RATE_RANGE
        return request.speed is None or low <= request.speed <= high

    def estimate_synthesis_cost(self, request: SynthesisRequest) -> Decimal:
        family = voice_family(self.resolve_voice(request.voice) or "")
        return self.prices.cost(family, {Unit.CHARACTER: len(request.text)})

    async def synthesize(self, call: Call, request: SynthesisRequest) -> SynthesisResult:
        if request.format not in TTS_ENCODINGS:
            raise ProviderError(self.id, ErrorClass.UNSUPPORTED, f"format {request.format!r} is not supported")
        voice = self.resolve_voice(request.voice) or self.default_voice or ""
        url = f"{call.credentials.base_url.rstrip('/')}/v1/text:synthesize"
        response = await send(
            call.http, self.id, "POST", url, timeout=call.timeout, describe=describe_google_error,
            headers=self._headers(call), json=synthesis_payload(request, voice),
        )  # fmt: skip
        audio = decode_audio_content(self.id, parse_json(self.id, response))
        return SynthesisResult(
            audio=audio,
            content_type=AUDIO_CONTENT_TYPES[request.format],
            model=voice_family(voice),
            characters=len(request.text),  # Google reports no count; it bills the characters sent
            duration_media_type=duration_media_type(request.format, request.sample_rate),
        )

    async def transcribe(self, call: Call, request: TranscriptionRequest) -> TranscriptionResult:
        if request.duration is not None and request.duration > MAX_SYNC_SECONDS:
            raise ProviderError(
                self.id, ErrorClass.UNSUPPORTED, f"synchronous recognition takes at most {MAX_SYNC_SECONDS:.0f} s"
            )
        model = request.model or self.default_stt_model or "default"
        payload = {
            "config": recognition_config(request, model),
            "audio": {"content": base64.b64encode(request.audio).decode("ascii")},
        }
        response = await send(
            call.http, self.id, "POST", f"{self._stt_base(call)}/v1/speech:recognize", timeout=call.timeout,
            describe=describe_google_error, headers=self._headers(call), json=payload,
        )  # fmt: skip
        return parse_recognition(parse_json(self.id, response), request, model)

    async def probe(self, call: Call) -> None:
        url = f"{call.credentials.base_url.rstrip('/')}/v1/voices"
        response = await send(
            call.http, self.id, "GET", url, timeout=call.timeout, describe=describe_google_error,
            headers=self._headers(call), params={"languageCode": "en-US"},
        )  # fmt: skip
        body = parse_json(self.id, response)
        if not isinstance(body, dict) or not isinstance(body.get("voices", []), list):
            raise ProviderError(self.id, ErrorClass.MALFORMED, "unexpected voices response")

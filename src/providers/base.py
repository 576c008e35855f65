"""The vendor adapter contract: the requests the gateway makes, the results it expects, and how units are priced.

An adapter is a :class:`Provider` subclass in ``providers/<vendor>.py`` (or a package once it grows). It builds the
vendor's real wire format, parses the vendor's answer into these neutral results, reports the billable units the
vendor itself reported (or measured from the audio), and raises :class:`gateway.errors.ProviderError` for every
vendor-side failure. Routing, retries and billing know nothing about vendors; adapters know nothing about them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from enum import Enum
from typing import Any, ClassVar

import httpx

from gateway.errors import ErrorClass, ProviderError


class Capability(str, Enum):
    TTS = "tts"
    STT = "stt"
    LLM = "llm"
    CALL = "call"  # voice-agent calls (providers.agent_calls)


class Unit(str, Enum):
    """What a vendor bills by. Prices are USD per one unit."""

    CHARACTER = "characters"
    AUDIO_SECOND = "audio_seconds"
    INPUT_TOKEN = "input_tokens"
    OUTPUT_TOKEN = "output_tokens"
    MINUTE = "minutes"  # voice-agent call time


AUDIO_CONTENT_TYPES = {"mp3": "audio/mpeg", "wav": "audio/wav", "pcm": "audio/pcm", "opus": "audio/ogg",
                       "flac": "audio/flac"}  # fmt: skip


@dataclass(frozen=True)
class Credentials:
    """What an adapter needs to call its vendor: resolved per request (workspace → platform → environment)."""

    api_key: str | None
    base_url: str
    extra: Mapping[str, str] = field(default_factory=dict)  # e.g. AWS secret/region, Cloudflare account id


@dataclass(frozen=True)
class SynthesisRequest:
    text: str
    voice: str | None = None
    model: str | None = None
    format: str = "mp3"  # mp3 | wav | pcm | opus
    sample_rate: int | None = None
    speed: float | None = None
    language: str | None = None

    def describe(self) -> str:
        """What was asked, as an error message names it: ``speech in mp3 at 44100 Hz in "tlh"``."""
        out = f"speech in {self.format}"
        if self.sample_rate:
            out += f" at {self.sample_rate} Hz"
        if self.language:
            out += f" in {self.language!r}"
        return out


@dataclass
class SynthesisResult:
    audio: bytes
    content_type: str
    model: str
    characters: int  # billed characters, as the vendor reported them when it does
    usage: dict[Unit, int] = field(default_factory=dict)  # extra billed units (e.g. tokens for gpt-4o-mini-tts)
    duration: float | None = None  # seconds of audio: as reported, else measured from the audio on first read
    # How to measure ``duration`` when nobody reported it (e.g. ``audio/pcm; rate=24000`` for headerless PCM; None
    # sniffs the container). Measuring is deferred because walking MP3 frames costs time on every request, and
    # nothing on the request path needs it (billing is per character).
    duration_media_type: str | None = None


def _read_duration(self: SynthesisResult) -> float | None:
    if self._duration is None and not self._measured:
        from gateway.audio import measure_duration

        self._measured = True
        self._duration = measure_duration(self.audio, self.duration_media_type)
    return self._duration


def _write_duration(self: SynthesisResult, value: float | None) -> None:
    self._duration = value
    self._measured = value is not None


SynthesisResult.duration = property(_read_duration, _write_duration)  # type: ignore[assignment,method-assign]


@dataclass(frozen=True)
class TranscriptionRequest:
    audio: bytes
    content_type: str
    language: str | None = None
    model: str | None = None
    punctuate: bool = True
    diarize: bool = False
    duration: float | None = None  # measured by the gateway from the audio when it can


@dataclass
class Word:
    word: str
    start: float
    end: float
    confidence: float | None = None
    speaker: int | str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"word": self.word, "start": self.start, "end": self.end, "confidence": self.confidence}
        if self.speaker is not None:
            out["speaker"] = self.speaker
        return out


@dataclass
class TranscriptionResult:
    text: str
    words: list[Word]
    confidence: float | None
    duration: float  # billed audio seconds, from the vendor's report or the audio itself
    model: str
    language: str | None = None
    usage: dict[Unit, int] = field(default_factory=dict)  # token-billed STT models report tokens here


@dataclass(frozen=True)
class ChatMessage:
    role: str
    content: str


@dataclass(frozen=True)
class CompletionRequest:
    messages: tuple[ChatMessage, ...]
    model: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None


@dataclass
class CompletionResult:
    text: str
    model: str
    input_tokens: int
    output_tokens: int
    finish_reason: str | None = None


@dataclass
class CompletionChunk:
    """One piece of a streamed completion. The last chunk carries the usage (and may carry no text)."""

    text: str = ""
    finish_reason: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    model: str | None = None


@dataclass(frozen=True)
class PriceTable:
    """A dated list price: USD per unit, per model (``"*"`` is the default for unlisted models)."""

    as_of: str
    prices: Mapping[str, Mapping[Unit, Decimal]]

    def for_model(self, model: str) -> Mapping[Unit, Decimal]:
        return self.prices.get(model) or self.prices.get("*") or {}

    def cost(self, model: str, units: Mapping[Unit, float | int]) -> Decimal:
        table = self.for_model(model)
        return sum((table.get(unit, Decimal(0)) * Decimal(str(q)) for unit, q in units.items()), Decimal(0))


def to_micros(usd: Decimal) -> int:
    """USD → integer micro-dollars (storage never sums floats)."""
    return int((usd * 1_000_000).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def per_million(usd: str) -> Decimal:
    """Prices are quoted per 1M units; store them per unit."""
    return Decimal(usd) / 1_000_000


@dataclass
class Call:
    """Everything one vendor attempt needs. The failover loop builds one per attempt."""

    http: httpx.AsyncClient
    credentials: Credentials
    timeout: float  # seconds for this attempt (to first byte for streams)
    # Runtime bindings an adapter may use when present (e.g. "AI": the Workers AI binding on the edge). The core
    # passes them through without knowing what they are; on CPython this is empty.
    bindings: Mapping[str, Any] = field(default_factory=dict)


class Provider:
    """Base class of every vendor adapter. Subclasses set the class attributes and implement what they support."""

    id: ClassVar[str]
    capabilities: ClassVar[frozenset[Capability]]
    prices: ClassVar[PriceTable]
    # Voice/format facts the router checks before choosing this vendor.
    tts_formats: ClassVar[frozenset[str]] = frozenset()
    tts_sample_rates: ClassVar[Mapping[str, frozenset[int]]] = {}  # format → rates it can produce (empty: any)
    max_text_length: ClassVar[int] = 5000
    default_tts_model: ClassVar[str | None] = None
    default_stt_model: ClassVar[str | None] = None
    default_llm_model: ClassVar[str | None] = None
    # Gateway voice aliases → this vendor's voice, so a failover keeps a comparable voice.
    voice_aliases: ClassVar[Mapping[str, str]] = {}
    default_voice: ClassVar[str | None] = None
    # Environment: the variable holding the key, the base URL variable and its default.
    env_key: ClassVar[str | None] = None
    env_base_url: ClassVar[str] = ""
    default_base_url: ClassVar[str] = ""

    # -- configuration ------------------------------------------------------------------------------------------
    @classmethod
    def credentials_from_env(cls, env: Mapping[str, str]) -> Credentials | None:
        """The vendor is enabled by environment when its key is present."""
        key = env.get(cls.env_key) if cls.env_key else None
        if not key:
            return None
        return Credentials(api_key=key, base_url=(env.get(cls.env_base_url) or cls.default_base_url).rstrip("/"))

    @classmethod
    def builtin_credentials(cls, env: Mapping[str, str], bindings: Mapping[str, Any]) -> Credentials | None:
        """Credentials when this vendor is usable with no key on this runtime (the built-in engine: ``local`` on
        CPython, Workers AI through the ``AI`` binding on the edge); None for vendors that always need a key."""
        return None

    def resolve_voice(self, voice: str | None) -> str | None:
        if voice is None:
            return self.default_voice
        return self.voice_aliases.get(voice.lower(), voice)

    def supports_synthesis(self, request: SynthesisRequest) -> bool:
        if Capability.TTS not in self.capabilities or request.format not in self.tts_formats:
            return False
        if len(request.text) > self.max_text_length:
            return False
        rates = self.tts_sample_rates.get(request.format)
        return not (request.sample_rate and rates and request.sample_rate not in rates)

    def describe_support(self, capability: Capability) -> str | None:
        """What this vendor can do, for an error that says why it was not chosen (``makes mp3, wav``)."""
        if capability is Capability.TTS and self.tts_formats:
            return f"makes {', '.join(sorted(self.tts_formats))}"
        return None

    # -- operations (override what the vendor supports) ----------------------------------------------------------
    async def synthesize(self, call: Call, request: SynthesisRequest) -> SynthesisResult:
        raise ProviderError(self.id, ErrorClass.UNSUPPORTED, "text-to-speech is not supported")

    async def stream_synthesis(self, call: Call, request: SynthesisRequest) -> AsyncIterator[bytes]:
        """Audio chunks as the vendor sends them. Default: one chunk from ``synthesize``."""
        result = await self.synthesize(call, request)
        yield result.audio

    async def transcribe(self, call: Call, request: TranscriptionRequest) -> TranscriptionResult:
        raise ProviderError(self.id, ErrorClass.UNSUPPORTED, "speech-to-text is not supported")

    async def complete(self, call: Call, request: CompletionRequest) -> CompletionResult:
        raise ProviderError(self.id, ErrorClass.UNSUPPORTED, "LLM completion is not supported")

    async def stream_completion(self, call: Call, request: CompletionRequest) -> AsyncIterator[CompletionChunk]:
        result = await self.complete(call, request)
        yield CompletionChunk(
            text=result.text,
            finish_reason=result.finish_reason,
            input_tokens=result.input_tokens,
            output_tokens=result.output_tokens,
            model=result.model,
        )

    async def probe(self, call: Call) -> None:
        """A cheap authenticated call for active health checks (never synthesizes user text)."""
        raise ProviderError(self.id, ErrorClass.UNSUPPORTED, "no probe")

    # -- pricing --------------------------------------------------------------------------------------------------
    def synthesis_cost(self, result: SynthesisResult) -> Decimal:
        units: dict[Unit, float | int] = {Unit.CHARACTER: result.characters, **result.usage}
        return self.prices.cost(result.model, units)

    def transcription_cost(self, result: TranscriptionResult) -> Decimal:
        units: dict[Unit, float | int] = dict(result.usage) if result.usage else {Unit.AUDIO_SECOND: result.duration}
        return self.prices.cost(result.model, units)

    def completion_cost(self, model: str, input_tokens: int, output_tokens: int) -> Decimal:
        return self.prices.cost(model, {Unit.INPUT_TOKEN: input_tokens, Unit.OUTPUT_TOKEN: output_tokens})

    def estimate_synthesis_cost(self, request: SynthesisRequest) -> Decimal:
        """Used by the cost strategy and budget reservations before any call."""
        return self.prices.cost(request.model or self.default_tts_model or "*", {Unit.CHARACTER: len(request.text)})

"""The built-in ``local`` vendor: espeak-ng speaks, PocketSphinx listens, on this machine, for free.

It needs no account, so it is the default when no vendor is configured and the last resort when every configured
vendor fails. Being last resort shapes two choices: a voice or model name it does not know (``alloy``, ``nova-3``:
another vendor's) is served with its own default rather than refused, and the result reports what really served
it; a language espeak-ng cannot speak is refused up front (``supports_synthesis``), because speaking it with the
wrong phonology would not be the requested speech.

Engines load lazily, once; their calls run off the event loop (see ``offload``).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Awaitable, Mapping
from typing import Any, ClassVar, TypeVar

from gateway.audio import wav_from_pcm
from gateway.audio_checks import decoded_size, inspect_audio
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
    Word,
)
from providers.local.encode import encode, output_rate, streamable_mp3
from providers.local.errors import BadAudio, Cancelled, EngineError, UnsupportedAudio
from providers.local.live_protocol import LISTEN_ROUTES
from providers.local.live_session import SESSIONS_ENV
from providers.local.offload import run_blocking
from providers.local.recognizer import SphinxProcess
from providers.local.speak_session import speak_route
from providers.local.stt import SAMPLE_RATE as RECOGNIZER_RATE
from providers.local.tts import EspeakEngine, words_per_minute
from providers.local.voices import choose_voice

TTS_MODEL = "espeak-ng"
STT_MODEL = "pocketsphinx-en-us"
MIN_SAMPLE_RATE, MAX_SAMPLE_RATE = 8000, 48000
# Recognition costs CPU in proportion to the audio (about 1 s per 17 s of audio here) and the recognizer runs one job
# at a time: longer uploads go to a vendor, so one request cannot hold the engine for more than a few seconds.
MAX_RECOGNIZER_SECONDS = 120
MAX_DECODED_BYTES = 64 * 2**20  # decoded PCM held at once (e.g. 120 s of 48 kHz stereo is 22 MiB)
T = TypeVar("T")

# One engine of each kind per process: each owns a C library's global state or a loaded model.
_espeak = EspeakEngine()
_sphinx = SphinxProcess()


class LocalProvider(Provider):
    id = "local"
    capabilities = frozenset({Capability.TTS, Capability.STT})
    prices = PriceTable(as_of="2026-06-01", prices={"*": {}})  # runs on our own CPU: every unit costs 0
    tts_formats = frozenset({"wav", "pcm", "mp3", "opus", "flac"})  # MP3, Ogg Opus, FLAC via libsndfile (``encode``)
    default_tts_model = TTS_MODEL
    default_stt_model = STT_MODEL
    # Variants chosen by speaking test sentences and recognizing them back with our own STT (20 sentences, share of
    # words recovered): edward 79 % (the default: the most recognizable variant of all 104), robosoft2 68 %
    # (genderless: neutral), f5 64 % (the best female), plain en-us about 30 %.
    default_voice = "en-us+edward"
    voice_aliases: ClassVar[dict[str, str]] = {
        "female": "en-us+f5",
        "male": "en-us+edward",
        "neutral": "en-us+robosoft2",
    }

    # Realtime speech-to-text on /voice/realtime and streaming speech on /voice/speak-stream: in-process routes
    # (see ``live_protocol`` and ``speak_session``).
    listen_routes = LISTEN_ROUTES
    speak_routes = (speak_route(lambda text, voice, rate, cancel: _speak_stream(text, voice, rate, cancel)),)

    @classmethod
    def credentials_from_env(cls, env: Mapping[str, str]) -> Credentials | None:
        # Nothing to configure: the engines are installed. The realtime session bound rides along as an extra.
        extra = {SESSIONS_ENV: env[SESSIONS_ENV]} if env.get(SESSIONS_ENV) else {}
        return Credentials(api_key=None, base_url="local:", extra=extra)

    @classmethod
    def builtin_credentials(cls, env: Mapping[str, str], bindings: Mapping[str, Any]) -> Credentials | None:
        return cls.credentials_from_env(env)

    # -- routing checks ------------------------------------------------------------------------------------------
    def supports_synthesis(self, request: SynthesisRequest) -> bool:
        if not super().supports_synthesis(request):
            return False
        if request.sample_rate is not None and not MIN_SAMPLE_RATE <= request.sample_rate <= MAX_SAMPLE_RATE:
            return False
        try:
            return self._voice(request) is not None
        except EngineError:
            return False  # the engine cannot load here; the probe reports why

    def describe_support(self, capability: Capability) -> str | None:
        if capability is Capability.TTS:
            formats = ", ".join(sorted(self.tts_formats))
            return f"makes {formats} at {MIN_SAMPLE_RATE}-{MAX_SAMPLE_RATE} Hz in the languages espeak-ng speaks"
        return None

    def _voice(self, request: SynthesisRequest) -> str | None:
        catalogue = _espeak.catalogue()
        voice = choose_voice(catalogue, request.voice, request.language, self.voice_aliases, self.default_voice or "")
        if voice is None and request.voice and request.voice.lower() not in self.voice_aliases:
            # Another vendor's voice name: speak the language with our default timbre instead of refusing.
            voice = choose_voice(catalogue, None, request.language, self.voice_aliases, self.default_voice or "")
        return voice

    # -- operations ----------------------------------------------------------------------------------------------
    async def synthesize(self, call: Call, request: SynthesisRequest) -> SynthesisResult:
        if request.format not in self.tts_formats:
            raise ProviderError(self.id, ErrorClass.UNSUPPORTED, f"format {request.format!r} is not supported")
        if not request.text.strip():
            raise ProviderError(self.id, ErrorClass.INVALID_INPUT, "no text to speak")
        rate = request.sample_rate
        if rate is not None and not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
            raise ProviderError(self.id, ErrorClass.UNSUPPORTED, f"sample rate {rate} is outside 8000-48000 Hz")
        audio, seconds = await self._guarded(call, run_blocking(_speak_encoded, self, request))
        return SynthesisResult(
            audio=audio,
            content_type=AUDIO_CONTENT_TYPES[request.format],
            model=TTS_MODEL,
            characters=len(request.text),
            duration=seconds,
        )

    async def stream_synthesis(self, call: Call, request: SynthesisRequest) -> AsyncIterator[bytes]:
        result = await self.synthesize(call, request)
        # /voice/stream joins one of these per sentence: an MP3's Info frame would end playback after the first.
        yield streamable_mp3(result.audio) if request.format == "mp3" else result.audio

    async def transcribe(self, call: Call, request: TranscriptionRequest) -> TranscriptionResult:
        return await self._guarded(call, self._transcribe(request))

    async def _transcribe(self, request: TranscriptionRequest) -> TranscriptionResult:
        pcm, duration = await run_blocking(_decode_for_recognizer, request.audio, request.content_type)
        words = await _sphinx.recognize(pcm)
        probabilities = [w.probability for w in words if w.probability is not None]
        return TranscriptionResult(
            text=" ".join(w.word for w in words),
            words=[Word(w.word, w.start, w.end, w.probability) for w in words],
            # PocketSphinx's sentence probability shrinks with every word; the mean word posterior is comparable
            # across utterance lengths, like other vendors' confidences.
            confidence=round(sum(probabilities) / len(probabilities), 4) if probabilities else None,
            duration=duration,  # measured from the decoded samples
            model=STT_MODEL,
            language="en",  # the only model installed: other languages are heard as English
        )

    async def probe(self, call: Call) -> None:
        """Loads both engines (the first probe warms them up, later ones are instant)."""
        await self._guarded(call, _load_engines())

    async def _guarded(self, call: Call, work: Awaitable[T]) -> T:
        """``work`` within the attempt's timeout, engine failures mapped onto ProviderError classes."""
        try:
            return await asyncio.wait_for(work, call.timeout)
        except TimeoutError:
            raise ProviderError(
                self.id, ErrorClass.TIMEOUT, f"local engine took longer than {call.timeout:g}s"
            ) from None
        except UnsupportedAudio as exc:
            raise ProviderError(self.id, ErrorClass.UNSUPPORTED, str(exc)) from None
        except BadAudio as exc:
            raise ProviderError(self.id, ErrorClass.INVALID_INPUT, str(exc)) from None
        except EngineError as exc:
            raise ProviderError(self.id, ErrorClass.SERVER, str(exc)) from None
        except Cancelled:
            raise ProviderError(self.id, ErrorClass.TIMEOUT, "local engine call was abandoned") from None


# -- the blocking halves (worker threads; each takes the cancel event last) ----------------------------------------
def _speak(provider: LocalProvider, request: SynthesisRequest, cancel: threading.Event) -> tuple[bytes, int]:
    """(PCM, rate) for a request; the first use loads espeak-ng, so voice choice runs here too."""
    voice = provider._voice(request)
    if voice is None:
        raise ProviderError(provider.id, ErrorClass.UNSUPPORTED, f"espeak-ng cannot speak {request.language!r}")
    from providers.local.audio_io import resample_pcm  # numpy, soxr: loaded on first use, not at import

    native = _espeak.sample_rate
    # default: espeak-ng's own 22,050 Hz (no resampling), raised to a rate the codec can carry
    rate = output_rate(request.format, native, request.sample_rate)
    pcm = _espeak.synthesize(request.text, voice, words_per_minute(request.speed), cancel)
    return resample_pcm(pcm, native, rate), rate


def _speak_stream(text: str, voice: str | None, rate: int, cancel: threading.Event) -> bytes:
    """One /voice/speak-stream flush as PCM at the session's rate."""
    request = SynthesisRequest(text=text, voice=voice, format="pcm", sample_rate=rate)
    return _speak(LocalProvider(), request, cancel)[0]


def _speak_encoded(provider: LocalProvider, request: SynthesisRequest, cancel: threading.Event) -> tuple[bytes, float]:
    """(audio in the requested format, seconds of speech)."""
    pcm, rate = _speak(provider, request, cancel)
    return package(pcm, rate, request.format), len(pcm) / 2 / rate


def package(pcm: bytes, rate: int, fmt: str) -> bytes:
    """PCM as the API format: raw, WAV-wrapped, or encoded."""
    if fmt == "pcm":
        return pcm
    if fmt == "wav":
        return wav_from_pcm(pcm, rate)
    return encode(pcm, rate, fmt)


def _decode_for_recognizer(audio: bytes, content_type: str | None, _cancel: threading.Event) -> tuple[bytes, float]:
    """(16 kHz mono PCM, seconds of audio) of an upload, refused before decoding when its header is not believable
    or declares more than the recognizer takes, and before resampling when it decodes to more than it declared."""
    problem, declared = inspect_audio(audio, content_type)
    if problem is not None:
        raise BadAudio(problem)
    if declared is not None and declared > MAX_RECOGNIZER_SECONDS:
        raise UnsupportedAudio(
            f"{declared:.0f} s of audio: the built-in recognizer takes up to {MAX_RECOGNIZER_SECONDS} s"
        )
    size = decoded_size(audio, content_type, declared)
    if size is not None and size > MAX_DECODED_BYTES:
        raise UnsupportedAudio(
            f"the audio decodes to {size // 2**20} MiB: the built-in recognizer takes up to "
            f"{MAX_DECODED_BYTES // 2**20} MiB"
        )
    from providers.local.audio_io import decode_to_mono, resample  # numpy, soxr: only for audio that passed

    samples, rate = decode_to_mono(audio, content_type)
    seconds = samples.size / rate
    if seconds > MAX_RECOGNIZER_SECONDS or (declared is not None and seconds > declared * 1.05 + 1):
        raise BadAudio(f"the audio decodes to {seconds:.0f} s, more than its header declares or the recognizer takes")
    return resample(samples, rate, RECOGNIZER_RATE).astype("<i2").tobytes(), seconds


async def _load_engines() -> None:
    await run_blocking(lambda _cancel: _espeak.catalogue())
    await _sphinx.load()

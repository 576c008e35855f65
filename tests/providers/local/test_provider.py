"""The local vendor against the adapter contract, with the real engines (no fakes): formats, rates, speed, errors."""

from __future__ import annotations

import asyncio
import io
import time
from decimal import Decimal

import httpx
import pytest

from gateway.audio import measure_duration, pcm_from_wav
from gateway.errors import ErrorClass, ProviderError
from providers import available_provider_ids, get_provider
from providers.base import Call, Capability, Credentials, SynthesisRequest, TranscriptionRequest
from providers.local import LocalProvider
from tests.fakes.audio import silent_mp3, sine_wav

TEXT = "hello world this is a test of the gateway"


def test_identity_prices_and_configuration(provider: LocalProvider) -> None:
    assert "local" in available_provider_ids()
    assert isinstance(get_provider("local"), LocalProvider)
    assert provider.capabilities == {Capability.TTS, Capability.STT}
    assert provider.tts_formats == {"wav", "pcm", "mp3", "opus", "flac"}
    assert provider.credentials_from_env({}) == Credentials(api_key=None, base_url="local:")
    assert provider.estimate_synthesis_cost(SynthesisRequest(text=TEXT, format="wav")) == Decimal(0)


def test_routing_checks_formats_rates_and_languages(provider: LocalProvider) -> None:
    def ok(**kwargs: object) -> bool:
        return provider.supports_synthesis(SynthesisRequest(text=TEXT, **kwargs))  # type: ignore[arg-type]

    assert ok(format="wav") and ok(format="pcm", sample_rate=8000) and ok(format="wav", sample_rate=48000)
    assert ok(format="mp3") and ok(format="opus", sample_rate=44100)  # libsndfile encodes both
    assert not ok(format="aac")  # no AAC encoder in libsndfile: never a candidate
    assert not ok(format="wav", sample_rate=4000) and not ok(format="wav", sample_rate=96000)
    assert ok(format="wav", language="es-ES") and ok(format="wav", language="fr") and ok(format="wav", language="de")
    assert not ok(format="wav", language="tlh")  # Klingon: espeak-ng has no voice for it
    # Another vendor's voice or model is served with our own (we are the last resort); the result says which.
    assert ok(format="wav", voice="alloy", model="tts-1")


async def test_wav_and_pcm_carry_the_same_speech(provider: LocalProvider, call: Call) -> None:
    wav = await provider.synthesize(call, SynthesisRequest(text=TEXT, format="wav"))
    pcm = await provider.synthesize(call, SynthesisRequest(text=TEXT, format="pcm"))
    assert (wav.content_type, pcm.content_type) == ("audio/wav", "audio/pcm")
    assert (wav.model, wav.characters) == ("espeak-ng", len(TEXT))
    body, rate, channels = pcm_from_wav(wav.audio)
    assert (rate, channels) == (22050, 1)  # espeak-ng's own rate when none is asked for
    # Same text, same voice: the same length (klatt voices add random aspiration noise, so not the same bytes).
    assert len(body) == len(pcm.audio)
    assert wav.duration == pytest.approx(len(body) / 2 / 22050)
    assert 1.0 < wav.duration < 4.0
    assert provider.synthesis_cost(wav) == Decimal(0)


@pytest.mark.parametrize("rate", [8000, 16000, 24000, 44100, 48000])
async def test_requested_sample_rate_is_honoured(provider: LocalProvider, call: Call, rate: int) -> None:
    result = await provider.synthesize(call, SynthesisRequest(text=TEXT, format="wav", sample_rate=rate))
    _, header_rate, _ = pcm_from_wav(result.audio)
    assert header_rate == rate
    native = await provider.synthesize(call, SynthesisRequest(text=TEXT, format="wav"))
    assert measure_duration(result.audio, "audio/wav") == pytest.approx(native.duration, rel=0.05)


@pytest.mark.parametrize(
    ("fmt", "rate", "expected_rate"),
    [("mp3", None, 22050), ("mp3", 8000, 8000), ("mp3", 44100, 44100), ("mp3", 10000, 11025),
     ("opus", None, 24000), ("opus", 16000, 16000), ("opus", 44100, 48000), ("opus", 22050, 24000)],
)  # fmt: skip
async def test_compressed_formats_are_real_files_that_decode_back(
    provider: LocalProvider, call: Call, fmt: str, rate: int | None, expected_rate: int
) -> None:
    import soundfile

    from providers.local.audio_io import decode_to_mono

    result = await provider.synthesize(call, SynthesisRequest(text=TEXT, format=fmt, sample_rate=rate))
    assert result.content_type == {"mp3": "audio/mpeg", "opus": "audio/ogg"}[fmt]
    info = soundfile.info(io.BytesIO(result.audio))
    assert info.format == {"mp3": "MP3", "opus": "OGG"}[fmt] and info.channels == 1
    if fmt == "mp3":
        assert info.samplerate == expected_rate
    else:
        assert b"OpusHead" in result.audio[:100]
        assert int.from_bytes(result.audio[40:44], "little") == expected_rate  # OpusHead's input sample rate
    # The gateway's own duration reader agrees with the engine's count, and the speech survives the codec.
    # (MP3 adds the encoder delay and pads the last frame: up to ~0.2 s at 8 kHz, where a frame is 72 ms.)
    assert measure_duration(result.audio) == pytest.approx(result.duration, abs=0.2)
    samples, _ = decode_to_mono(result.audio, None)
    assert int(abs(samples.astype("int32")).max()) > 2000


async def test_speed_two_is_shorter_than_speed_one(provider: LocalProvider, call: Call) -> None:
    normal = await provider.synthesize(call, SynthesisRequest(text=TEXT, format="pcm", speed=1.0))
    fast = await provider.synthesize(call, SynthesisRequest(text=TEXT, format="pcm", speed=2.0))
    slow = await provider.synthesize(call, SynthesisRequest(text=TEXT, format="pcm", speed=0.5))
    assert normal.duration and fast.duration and slow.duration
    assert fast.duration < 0.7 * normal.duration < 0.7 * slow.duration


async def test_languages_and_aliases_change_the_voice(provider: LocalProvider, call: Call) -> None:
    english = await provider.synthesize(call, SynthesisRequest(text="uno dos tres", format="pcm"))
    spanish = await provider.synthesize(call, SynthesisRequest(text="uno dos tres", format="pcm", language="es"))
    female = await provider.synthesize(call, SynthesisRequest(text="uno dos tres", format="pcm", voice="female"))
    assert len({english.audio, spanish.audio, female.audio}) == 3
    assert provider.resolve_voice("female") == "en-us+f5"


async def test_unsupported_requests_fail_as_the_contract_says(provider: LocalProvider, call: Call) -> None:
    with pytest.raises(ProviderError) as aac:
        await provider.synthesize(call, SynthesisRequest(text=TEXT, format="aac"))
    assert aac.value.error_class is ErrorClass.UNSUPPORTED and aac.value.provider == "local"
    with pytest.raises(ProviderError) as language:
        await provider.synthesize(call, SynthesisRequest(text=TEXT, format="wav", language="tlh"))
    assert language.value.error_class is ErrorClass.UNSUPPORTED
    with pytest.raises(ProviderError) as empty:
        await provider.synthesize(call, SynthesisRequest(text="   ", format="wav"))
    assert empty.value.error_class is ErrorClass.INVALID_INPUT


@pytest.mark.parametrize(
    ("audio", "content_type", "error_class"),
    [
        (b"definitely not audio, just some bytes" * 10, "application/octet-stream", ErrorClass.INVALID_INPUT),
        (b"RIFF\x24\x00\x00\x00WAVEjunk", "audio/wav", ErrorClass.INVALID_INPUT),
        (b"\x1a\x45\xdf\xa3" + bytes(64), "audio/webm", ErrorClass.UNSUPPORTED),
    ],
)
async def test_undecodable_uploads(
    provider: LocalProvider, call: Call, audio: bytes, content_type: str, error_class: ErrorClass
) -> None:
    with pytest.raises(ProviderError) as caught:
        await provider.transcribe(call, TranscriptionRequest(audio=audio, content_type=content_type))
    assert caught.value.error_class is error_class


async def test_mp3_upload_is_decoded_and_measured(provider: LocalProvider, call: Call) -> None:
    result = await provider.transcribe(call, TranscriptionRequest(audio=silent_mp3(1.5), content_type="audio/mpeg"))
    assert result.duration == pytest.approx(1.5, abs=0.05)  # from the decoded samples
    assert result.text == "" and result.words == [] and result.confidence is None  # silence says nothing
    assert (result.model, result.language) == ("pocketsphinx-en-us", "en")
    assert provider.transcription_cost(result) == Decimal(0)


async def test_probe_loads_both_engines(provider: LocalProvider, call: Call) -> None:
    await provider.probe(call)


async def test_recognition_runs_without_blocking_the_event_loop(provider: LocalProvider, call: Call) -> None:
    speech = await provider.synthesize(call, SynthesisRequest(text=TEXT + " " + TEXT, format="wav"))
    await provider.probe(call)  # the worker process is up: what follows is recognition only
    gaps: list[float] = []

    async def ticker() -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0.005)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    ticking = asyncio.create_task(ticker())
    try:
        result = await provider.transcribe(call, TranscriptionRequest(audio=speech.audio, content_type="audio/wav"))
    finally:
        ticking.cancel()
    assert len(result.words) >= 8  # it did recognize speech (what it heard is the round-trip tests' business)
    # In-thread PocketSphinx froze the loop for ~0.5 s at a time (it holds the GIL); in its own process it cannot.
    assert max(gaps) < 0.25, f"event loop stalled for {max(gaps):.3f}s"


async def test_a_caller_that_stops_waiting_gets_a_timeout_and_the_next_one_is_served(provider: LocalProvider) -> None:
    long_speech = sine_wav(30.0)  # 30 s to recognize: far more than the attempt allows
    async with httpx.AsyncClient() as http:
        credentials = provider.credentials_from_env({})
        assert credentials is not None
        hurried = Call(http=http, credentials=credentials, timeout=0.3)
        started = time.perf_counter()
        with pytest.raises(ProviderError) as caught:
            await provider.transcribe(hurried, TranscriptionRequest(audio=long_speech, content_type="audio/wav"))
        assert caught.value.error_class is ErrorClass.TIMEOUT
        assert time.perf_counter() - started < 1.0
        # The abandoned job's worker was stopped, so the next request does not queue behind 30 s of audio.
        patient = Call(http=http, credentials=credentials, timeout=30)
        short = sine_wav(0.5)
        started = time.perf_counter()
        result = await provider.transcribe(patient, TranscriptionRequest(audio=short, content_type="audio/wav"))
        assert result.duration == pytest.approx(0.5)
        assert time.perf_counter() - started < 10.0

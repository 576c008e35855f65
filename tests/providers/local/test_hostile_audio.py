"""The built-in recognizer bounds its work at the entry point: hostile headers are refused before any decoding,
audio longer than it takes before decoding, audio that decodes to more than it declared before resampling — and a
caller whose deadline passed while another job held the engine frees its worker thread at once."""

from __future__ import annotations

import asyncio
import struct
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from gateway.errors import ErrorClass, ProviderError
from providers.base import Call, TranscriptionRequest
from providers.local import LocalProvider, audio_io
from providers.local.provider import MAX_RECOGNIZER_SECONDS, _sphinx
from providers.local.recognizer import SphinxProcess
from tests.fakes.audio import sine_pcm, wav
from tests.gateway.test_audio_checks import HOSTILE
from tests.providers.local.flac import flac_from_pcm


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts real decoder runs (the decoder itself still runs)."""
    calls: list[int] = []
    real = audio_io.decode_to_mono

    def counting(data: bytes, content_type: str | None):  # type: ignore[no-untyped-def]
        calls.append(len(data))
        return real(data, content_type)

    monkeypatch.setattr(audio_io, "decode_to_mono", counting)
    return calls


@pytest.mark.parametrize("name", sorted(HOSTILE))
async def test_hostile_headers_are_refused_before_decoding(
    provider: LocalProvider, call: Call, decodes: list[int], name: str
) -> None:
    with pytest.raises(ProviderError) as caught:
        await provider.transcribe(call, TranscriptionRequest(audio=HOSTILE[name], content_type=None))
    assert caught.value.error_class is ErrorClass.INVALID_INPUT, caught.value
    assert decodes == []


async def test_audio_longer_than_the_recognizer_takes_is_refused_before_decoding(
    provider: LocalProvider, call: Call, decodes: list[int]
) -> None:
    too_long = wav(bytes(8000 * 2 * (MAX_RECOGNIZER_SECONDS + 1)), 8000)
    with pytest.raises(ProviderError) as caught:
        await provider.transcribe(call, TranscriptionRequest(audio=too_long, content_type="audio/wav"))
    assert caught.value.error_class is ErrorClass.UNSUPPORTED and decodes == []


async def test_audio_that_decodes_to_more_than_it_declared_is_refused_before_resampling(
    provider: LocalProvider, call: Call, decodes: list[int]
) -> None:
    flac = bytearray(flac_from_pcm(sine_pcm(4.0), 16000))
    (packed,) = struct.unpack_from(">Q", flac, 18)
    struct.pack_into(">Q", flac, 18, (packed & ~((1 << 36) - 1)) | 16000)  # STREAMINFO now says 1 s
    with pytest.raises(ProviderError) as caught:
        await provider.transcribe(call, TranscriptionRequest(audio=bytes(flac), content_type="audio/flac"))
    assert caught.value.error_class is ErrorClass.INVALID_INPUT and "decodes to 4 s" in caught.value.message
    assert len(decodes) == 1


async def test_a_caller_that_gave_up_waiting_for_the_engine_frees_its_thread() -> None:
    """The loop's executor has one thread here: if the abandoned job kept it blocked on the engine's lock, nothing
    else offloaded to a thread (audio decoding, espeak-ng) could run until the long job ended."""
    loop = asyncio.get_running_loop()
    loop.set_default_executor(ThreadPoolExecutor(max_workers=1))
    engine = SphinxProcess()
    engine._lock.acquire()  # a long job holds the engine
    try:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(engine.recognize(bytes(3200)), 0.2)
        ran = await asyncio.wait_for(asyncio.to_thread(threading.get_ident), 5)
        assert ran
    finally:
        engine._lock.release()
        engine.close()
    assert _sphinx is not engine


async def test_audio_that_would_decode_to_too_much_memory_is_refused_before_decoding(
    provider: LocalProvider, call: Call, decodes: list[int]
) -> None:
    from tests.gateway.test_audio import streaminfo

    # 100 s of 8-channel 384 kHz FLAC by its header (within the duration cap, over the memory cap), in 4 KB.
    flac = b"fLaC" + streaminfo(384_000, 384_000 * 100, channels=8) + bytes(4096)
    with pytest.raises(ProviderError) as caught:
        await provider.transcribe(call, TranscriptionRequest(audio=flac, content_type="audio/flac"))
    assert caught.value.error_class is ErrorClass.UNSUPPORTED and "MiB" in caught.value.message and decodes == []

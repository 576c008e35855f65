"""Decoding uploads to mono 16-bit samples: every container the gateway accepts, built from real samples."""

from __future__ import annotations

import math
import struct

import numpy as np
import pytest

from providers.local.audio_io import decode_to_mono, resample, resample_pcm
from providers.local.errors import BadAudio, UnsupportedAudio
from tests.fakes.audio import MP3_FRAME_SECONDS, silent_mp3, sine_pcm, wav
from tests.providers.local.flac import flac_from_pcm


def ramp(n: int) -> np.ndarray:
    return (np.arange(n, dtype=np.int32) * 7 % 20000 - 10000).astype(np.int16)


def test_16_bit_mono_wav_comes_back_sample_for_sample() -> None:
    samples = ramp(1000)
    decoded, rate = decode_to_mono(wav(samples.tobytes(), 8000), "audio/wav")
    assert rate == 8000
    assert np.array_equal(decoded, samples)


def test_stereo_is_downmixed_to_the_mean_of_the_channels() -> None:
    left, right = ramp(500), np.full(500, 1000, dtype=np.int16)
    interleaved = np.column_stack([left, right]).reshape(-1)
    decoded, rate = decode_to_mono(wav(interleaved.tobytes(), 16000, channels=2), None)
    assert rate == 16000
    expected = np.round((left.astype(np.float64) + 1000) / 2).astype(np.int16)
    assert np.array_equal(decoded, expected)


@pytest.mark.parametrize("bits", [8, 24, 32])
def test_other_integer_widths_keep_their_most_significant_16_bits(bits: int) -> None:
    samples = ramp(300)
    if bits == 8:
        raw = ((samples >> 8).astype(np.int16) + 128).astype(np.uint8).tobytes()
        expected = (samples >> 8) << 8
    else:
        wide = samples.astype(np.int32) << (bits - 16)
        raw = b"".join(int(v).to_bytes(bits // 8, "little", signed=True) for v in wide)
        expected = samples
    decoded, _ = decode_to_mono(wav(raw, 16000, bits=bits), "audio/wav")
    assert np.array_equal(decoded, expected.astype(np.int16))


def test_float_wav_that_the_stdlib_rejects_goes_through_miniaudio() -> None:
    floats = struct.pack("<4f", 0.0, 0.5, -0.5, 0.25)
    header = b"RIFF" + struct.pack("<I", 36 + len(floats)) + b"WAVE"
    header += b"fmt " + struct.pack("<IHHIIHH", 16, 3, 1, 16000, 64000, 4, 32)  # format 3: IEEE float
    decoded, rate = decode_to_mono(header + b"data" + struct.pack("<I", len(floats)) + floats, "audio/wav")
    assert rate == 16000
    expected = [0, 16384, -16384, 8192]  # full scale is 32768; the converter may be off by one step
    assert all(abs(int(got) - want) <= 2 for got, want in zip(decoded, expected, strict=True))


def test_flac_decodes_through_miniaudio() -> None:
    pcm = sine_pcm(0.6, 22050)
    decoded, rate = decode_to_mono(flac_from_pcm(pcm, 22050), "audio/flac")
    assert rate == 22050
    assert decoded.tobytes() == pcm


def test_mp3_decodes_through_miniaudio() -> None:
    decoded, rate = decode_to_mono(silent_mp3(1.0), "audio/mpeg")
    assert rate == 44100
    frames = math.ceil(1.0 / MP3_FRAME_SECONDS)
    # The decoder may drop its priming delay, never more than one frame's worth.
    assert frames * 1152 - 1152 <= decoded.size <= frames * 1152
    assert not decoded.any()  # zeroed frames are silence


def test_raw_pcm_needs_its_rate_in_the_content_type() -> None:
    samples = ramp(800)
    decoded, rate = decode_to_mono(samples.tobytes(), "audio/L16; rate=8000")
    assert (rate, decoded.size) == (8000, 800)
    stereo, _ = decode_to_mono(samples.tobytes(), "audio/pcm; rate=8000; channels=2")
    assert stereo.size == 400
    with pytest.raises(BadAudio, match="rate"):
        decode_to_mono(samples.tobytes(), "audio/pcm")


@pytest.mark.parametrize(
    "data",
    [
        b"this is not audio at all, just text",
        b"RIFF\x10\x00\x00\x00WAVEfmt garbage",
        b"fLaC" + bytes(60),
        silent_mp3(0.5)[:3] + b"\x00" * 10,  # looks like ID3/MPEG for a moment, then nothing
        b"OggS" + bytes(200),  # an Ogg page header around nothing Vorbis
        wav(b"", 16000),  # a valid header with no samples
    ],
)
def test_bytes_that_are_not_decodable_audio_are_bad_audio(data: bytes) -> None:
    with pytest.raises(BadAudio):
        decode_to_mono(data, "application/octet-stream")


@pytest.mark.parametrize(
    "data",
    [b"\x1a\x45\xdf\xa3" + bytes(40), b"\x00\x00\x00\x18ftypM4A " + bytes(40)],
)
def test_real_containers_without_an_installed_decoder_are_unsupported(data: bytes) -> None:
    with pytest.raises(UnsupportedAudio):
        decode_to_mono(data, None)


def test_broken_ogg_opus_is_bad_audio() -> None:
    with pytest.raises(BadAudio):
        decode_to_mono(b"OggS" + bytes(24) + b"OpusHead", None)


def test_ogg_opus_decodes_through_libsndfile() -> None:
    from providers.local.encode import encode

    tone = sine_pcm(1.0, 24000)
    samples, rate = decode_to_mono(encode(tone, 24000, "opus"), None)
    assert rate in (24000, 48000)  # libsndfile may decode at Opus' native 48 kHz
    assert abs(samples.size / rate - 1.0) < 0.05
    assert int(np.abs(samples.astype(np.int32)).max()) > 1000  # the tone, not silence


def test_resampling_keeps_the_duration() -> None:
    samples = np.frombuffer(sine_pcm(1.0, 22050), dtype="<i2")
    assert abs(resample(samples, 22050, 16000).size - 16000) <= 1
    assert resample(samples, 22050, 22050) is samples
    assert abs(len(resample_pcm(samples.tobytes(), 22050, 48000)) // 2 - 48000) <= 1

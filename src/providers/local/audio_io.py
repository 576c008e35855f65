"""Audio in and out of the local engines: decode an upload to mono 16-bit samples, resample, wrap PCM as WAV.

WAV goes through the standard library's ``wave``; MP3, FLAC and Ogg Vorbis through ``miniaudio`` (which decodes
but cannot encode); Ogg Opus through ``soundfile`` (libsndfile); resampling through ``soxr``. Uploads are untrusted:
every failure becomes :class:`BadAudio` (the bytes are not audio we can read) or :class:`UnsupportedAudio` (real
audio in a codec we have no decoder for), which the provider maps onto its error classes.
"""

from __future__ import annotations

import io
import wave

import miniaudio
import numpy as np
import soxr

from gateway.audio import sniff_format, wav_from_pcm
from providers.local.errors import BadAudio, UnsupportedAudio

__all__ = ["BadAudio", "UnsupportedAudio", "decode_to_mono", "resample", "resample_pcm", "wav_from_pcm"]

_RAW_PCM_TYPES = ("audio/pcm", "audio/l16")


def decode_to_mono(data: bytes, content_type: str | None) -> tuple[np.ndarray, int]:
    """(mono int16 samples, sample rate) of an upload, whatever container it came in."""
    fmt = sniff_format(data)
    if fmt == "wav":
        samples, channels, rate = _decode_wav(data)
    elif fmt in ("mp3", "flac", "ogg"):
        samples, channels, rate = _decode_compressed(data, fmt)
    elif fmt in ("webm", "mp4"):
        raise UnsupportedAudio(f"{fmt} audio cannot be decoded by the local engine (use wav, mp3, flac or ogg vorbis)")
    else:
        samples, channels, rate = _decode_raw_pcm(data, content_type)
    if rate <= 0 or channels <= 0:
        raise BadAudio("audio header has no sample rate or channel count")
    if samples.size < channels:
        raise BadAudio("the audio holds no samples")
    return _downmix(samples, channels), rate


def resample(samples: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """int16 mono samples at ``to_rate`` (soxr's high-quality resampler; a no-op when the rates agree)."""
    if from_rate == to_rate:
        return samples
    return soxr.resample(samples, from_rate, to_rate, quality="HQ")


def resample_pcm(pcm: bytes, from_rate: int, to_rate: int) -> bytes:
    """Mono 16-bit little-endian PCM bytes at another rate."""
    if from_rate == to_rate:
        return pcm
    return resample(np.frombuffer(pcm, dtype="<i2"), from_rate, to_rate).astype("<i2").tobytes()


# -- containers ------------------------------------------------------------------------------------------------------


def _decode_wav(data: bytes) -> tuple[np.ndarray, int, int]:
    try:
        with wave.open(io.BytesIO(data), "rb") as reader:
            channels, width, rate = reader.getnchannels(), reader.getsampwidth(), reader.getframerate()
            frames = reader.readframes(reader.getnframes())
    except (wave.Error, EOFError, ValueError) as exc:
        # The stdlib reads integer PCM only; float and WAVE_FORMAT_EXTENSIBLE files go to miniaudio's reader.
        try:
            decoded = miniaudio.wav_read_s16(data)
        except (miniaudio.MiniaudioError, ZeroDivisionError, ValueError):
            raise BadAudio(f"unreadable WAV: {exc}") from None
        return np.frombuffer(decoded.samples, dtype=np.int16), decoded.nchannels, decoded.sample_rate
    return _int16_from_wav_frames(frames, width), channels, rate


def _int16_from_wav_frames(frames: bytes, width: int) -> np.ndarray:
    """WAV integer samples of any width as int16 (8-bit WAV is unsigned; wider samples keep their top 16 bits)."""
    usable = len(frames) - len(frames) % width
    raw = np.frombuffer(frames[:usable], dtype=np.uint8)
    if width == 1:
        return ((raw.astype(np.int16) - 128) << 8).astype(np.int16)
    if width == 2:
        return raw.view("<i2").astype(np.int16)
    if width in (3, 4):
        top_two = raw.reshape(-1, width)[:, width - 2 :]  # little-endian: the most significant bytes are last
        return np.ascontiguousarray(top_two).view("<i2").reshape(-1).astype(np.int16)
    raise BadAudio(f"WAV with {width * 8}-bit samples is not supported")


_MINIAUDIO_READERS = {"mp3": miniaudio.mp3_read_s16, "flac": miniaudio.flac_read_s16, "ogg": miniaudio.vorbis_read}


def _decode_compressed(data: bytes, fmt: str) -> tuple[np.ndarray, int, int]:
    if fmt == "ogg" and b"OpusHead" in data[:512]:
        return _decode_opus(data)
    try:
        decoded = _MINIAUDIO_READERS[fmt](data)
    except (miniaudio.MiniaudioError, ZeroDivisionError, ValueError) as exc:
        raise BadAudio(f"unreadable {fmt} audio: {exc}") from None
    return np.frombuffer(decoded.samples, dtype=np.int16), decoded.nchannels, decoded.sample_rate


def _decode_opus(data: bytes) -> tuple[np.ndarray, int, int]:
    """Ogg Opus through libsndfile (miniaudio has no Opus decoder)."""
    import soundfile

    try:
        samples, rate = soundfile.read(io.BytesIO(data), dtype="int16", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, ValueError) as exc:
        raise BadAudio(f"unreadable Ogg Opus audio: {exc}") from None
    return np.ascontiguousarray(samples).reshape(-1), samples.shape[1], rate


def _decode_raw_pcm(data: bytes, content_type: str | None) -> tuple[np.ndarray, int, int]:
    """Headerless 16-bit little-endian PCM, only when the content type states its rate (as gateway.audio does)."""
    media_type, *params = (part.strip() for part in (content_type or "").split(";"))
    if media_type.lower() not in _RAW_PCM_TYPES:
        raise BadAudio("not audio in a format the local engine reads (wav, mp3, flac, ogg vorbis)")
    values = {}
    for param in params:
        name, _, value = param.partition("=")
        values[name.strip().lower()] = value.strip().strip('"')
    try:
        rate, channels = int(values["rate"]), int(values.get("channels", "1"))
    except (KeyError, ValueError):
        raise BadAudio("raw PCM needs its sample rate in the content type (audio/pcm; rate=16000)") from None
    usable = len(data) - len(data) % (2 * max(channels, 1))
    return np.frombuffer(data[:usable], dtype="<i2").astype(np.int16), channels, rate


def _downmix(samples: np.ndarray, channels: int) -> np.ndarray:
    if channels == 1:
        return samples
    frames = samples[: samples.size - samples.size % channels].reshape(-1, channels)
    return frames.mean(axis=1).round().astype(np.int16)

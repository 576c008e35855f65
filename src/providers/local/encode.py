"""Encode the engine's PCM into the format a caller asked for, with libsndfile (the ``soundfile`` wheel bundles it
with LAME, mpg123, libopus, libvorbis and libFLAC on every platform it ships for).

Measured on this repo's 2-core CI box, 5 s of 22,050 Hz speech: MP3 ~40-60 ms, Ogg Opus ~60-190 ms (lower at
48 kHz, where Opus runs natively), FLAC ~1-7 ms (bench/local_engine/RESULTS.md). Each codec only takes some rates,
so the PCM is first resampled to the nearest rate the codec can carry: the caller gets a valid file at (or just
above) the rate asked for, and :func:`encode` says which rate that is.
"""

from __future__ import annotations

import io

from providers.local.errors import EngineError

# libsndfile (format, subtype) per API format; wav and pcm are wrapped by the gateway itself.
_CODECS = {"mp3": ("MP3", "MPEG_LAYER_III"), "opus": ("OGG", "OPUS"), "flac": ("FLAC", "PCM_16")}
# Rates each codec can carry: MPEG-1/2/2.5 layer III, and Opus' own internal rates (RFC 6716 §2).
_RATES = {
    "mp3": (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000),
    "opus": (8000, 12000, 16000, 24000, 48000),
}
# With no rate asked for: MP3 keeps espeak-ng's own rate; Opus uses 24 kHz, as OpenAI's opus does.
_DEFAULT_RATES = {"opus": 24000}
ENCODED_FORMATS = frozenset(_CODECS)


def output_rate(fmt: str, native: int, requested: int | None) -> int:
    """The rate the audio will be encoded at: the requested (or default) rate, raised to one the codec supports."""
    rate = requested or _DEFAULT_RATES.get(fmt, native)
    allowed = _RATES.get(fmt)
    if not allowed or rate in allowed:
        return rate
    return next((r for r in allowed if r >= rate), allowed[-1])


def streamable_mp3(data: bytes) -> bytes:
    """An MP3 file as a piece of a longer stream: without its ID3v2 tag and its Xing/Info frame, whose frame count
    would make a decoder stop at the end of this piece when pieces are joined (``/voice/stream``)."""
    from gateway.audio import _frame_at, _id3v2_size

    pos = _id3v2_size(data) or 0
    frame = _frame_at(data, pos)
    if frame is None:
        return data[pos:]
    side_info = (17 if frame.mono else 32) if frame.version == 3 else (9 if frame.mono else 17)  # 3: MPEG-1
    tag = pos + 4 + side_info
    if data[tag : tag + 4] in (b"Xing", b"Info"):
        return data[pos + frame.length :]
    return data[pos:]


def encode(pcm: bytes, rate: int, fmt: str) -> bytes:
    """Mono 16-bit little-endian ``pcm`` at ``rate`` as an MP3, Ogg Opus or FLAC file (``rate`` must suit the codec)."""
    import numpy as np
    import soundfile

    container, subtype = _CODECS[fmt]
    out = io.BytesIO()
    try:
        soundfile.write(out, np.frombuffer(pcm, dtype="<i2"), rate, format=container, subtype=subtype)
    except (soundfile.LibsndfileError, RuntimeError, ValueError) as exc:
        raise EngineError(f"encoding {fmt} at {rate} Hz failed: {exc}") from None
    return out.getvalue()

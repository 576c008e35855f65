"""Refuse hostile audio headers before anything decodes, resamples or bills the audio.

An upload's header decides how much work it causes: a 1 KB WAV declaring a 1 Hz sample rate is "512 seconds" of
audio, which resampled to 16 kHz is eight million samples for the recognizer. So the parameters a header declares
must be ones real audio has (sample rate, channels, bits per sample, consistent block sizes), and the duration it
declares must fit the bytes that are really there at the format's lowest plausible bitrate. Cheap (headers only),
pure standard library: it runs before every vendor, on both runtimes.
"""

from __future__ import annotations

import struct

from gateway.audio import _flac_streaminfo, _parse_wav, measure_duration, sniff_format

MIN_SAMPLE_RATE, MAX_SAMPLE_RATE = 4_000, 384_000
MAX_CHANNELS = 32
_PCM_BITS = {1: (8, 16, 24, 32), 3: (32, 64)}  # WAV format tag → bits per sample it can have
# The fewest bytes one second of each format can take (well below any real encoder's floor: FLAC of pure silence
# at 8 kHz is about 30 B/s, MP3's lowest bitrate 1,000 B/s). A header declaring more seconds than that is lying.
_MIN_BYTES_PER_SECOND = {"wav": 100, "mp3": 500, "ogg": 100, "flac": 16, "mp4": 100}
_SLACK_SECONDS = 1.0


def audio_problem(data: bytes, content_type: str | None = None) -> str | None:
    """Why ``data``'s header is not believable audio, or None. Never raises on hostile input."""
    return inspect_audio(data, content_type)[0]


def inspect_audio(data: bytes, content_type: str | None = None) -> tuple[str | None, float | None]:
    """(why ``data``'s header is not believable audio or None, the seconds it declares or None): one pass over the
    header for callers that need both (the duration walk is a loop over every MP3 frame)."""
    try:
        fmt = sniff_format(data)
        problem = _wav(data) if fmt == "wav" else _flac(data) if fmt == "flac" else None
    except (struct.error, IndexError, ValueError):
        return "the audio header is malformed", None
    if problem is not None:
        return problem, None
    declared = measure_duration(data, content_type)
    if fmt in _MIN_BYTES_PER_SECOND:
        most = len(data) / _MIN_BYTES_PER_SECOND[fmt] + _SLACK_SECONDS
        if declared is not None and declared > most:
            return f"the {fmt} header declares {declared:.0f} s of audio in {len(data)} bytes", declared
    return None, declared


def decoded_size(data: bytes, content_type: str | None = None, seconds: float | None = None) -> int | None:
    """Bytes of 16-bit PCM that decoding ``data`` (all channels, before any downmix) produces by its own header, or
    None when the header does not say: a decoder's memory is bounded by this before it runs. ``seconds``: the
    duration already measured (``inspect_audio``), not measured again."""
    try:
        if seconds is None:
            seconds = measure_duration(data, content_type)
        fmt = sniff_format(data)
        if seconds is None or fmt is None:
            return None
        if fmt == "wav":
            wav = _parse_wav(data)
            rate, channels = (wav.sample_rate, wav.channels) if wav else (0, 0)
        elif fmt == "flac":
            info = _flac_streaminfo(data, 4)
            (packed,) = struct.unpack_from(">Q", data, 4 + 4 + 10)
            rate, channels = (info[0] if info else 0), ((packed >> 41) & 0x7) + 1
        elif fmt == "ogg" and (at := data.find(b"\x01vorbis", 0, 512)) >= 0:
            channels, rate = data[at + 11], struct.unpack_from("<I", data, at + 12)[0]
        else:
            rate, channels = 48_000, 2  # MP3 and the rest: at most 48 kHz stereo
    except (struct.error, IndexError, ValueError):
        return None
    return int(seconds * rate * channels * 2)


def _rate_and_channels(rate: int, channels: int) -> str | None:
    if not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
        return f"the audio declares a sample rate of {rate} Hz (accepted: {MIN_SAMPLE_RATE}-{MAX_SAMPLE_RATE})"
    if not 1 <= channels <= MAX_CHANNELS:
        return f"the audio declares {channels} channels (accepted: 1-{MAX_CHANNELS})"
    return None


def _wav(data: bytes) -> str | None:
    wav = _parse_wav(data)
    if wav is None:
        return "the WAV file has no fmt and data chunks"
    problem = _rate_and_channels(wav.sample_rate, wav.channels)
    if problem is not None or wav.format_tag not in _PCM_BITS:
        return problem  # compressed WAV: its fact chunk's duration is checked against the bytes like other formats
    if wav.bits not in _PCM_BITS[wav.format_tag]:
        return f"the WAV file declares {wav.bits}-bit samples"
    if wav.block_align != wav.channels * wav.bits // 8 or wav.byte_rate != wav.sample_rate * wav.block_align:
        return "the WAV header's block size and byte rate contradict its channels, bits and sample rate"
    return None


def _flac(data: bytes) -> str | None:
    info = _flac_streaminfo(data, 4)
    if info is None:
        return "the FLAC file has no STREAMINFO block"
    (packed,) = struct.unpack_from(">Q", data, 4 + 4 + 10)
    channels = ((packed >> 41) & 0x7) + 1
    return _rate_and_channels(info[0], channels)

"""Audio measurement: what container an upload is and how many seconds it holds, read from its own headers.

The gateway bills, limits and sanity-checks audio by duration, so it measures instead of guessing: WAV chunk
sizes, MP3 frame headers (or the Xing/VBRI frame count), the last Ogg granule position, FLAC STREAMINFO, the MP4
``mvhd`` box. Raw PCM is measured only when the content type states its rate (``audio/L16; rate=16000``). Anything
else is ``None`` — never bytes divided by a guessed bitrate.

Uploads are untrusted: every parser bounds-checks and returns ``None`` on truncated or contradictory headers rather
than raising. Pure standard library, so it runs unchanged under Pyodide.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterator
from typing import NamedTuple

AUDIO_MEDIA_TYPES = frozenset(
    {
        "audio/wav",
        "audio/x-wav",
        "audio/wave",
        "audio/mpeg",
        "audio/mp3",
        "audio/ogg",
        "audio/webm",
        "audio/flac",
        "audio/x-flac",
        "audio/mp4",
        "application/octet-stream",
    }
)

_CANONICAL_TYPES = {
    "wav": "audio/wav",
    "mp3": "audio/mpeg",
    "ogg": "audio/ogg",
    "flac": "audio/flac",
    "webm": "audio/webm",
    "mp4": "audio/mp4",
}


def content_type_for(fmt: str) -> str:
    """The canonical upload media type for a sniffed format (``application/octet-stream`` if unknown)."""
    return _CANONICAL_TYPES.get(fmt, "application/octet-stream")


# -- sniffing ------------------------------------------------------------------------------------------------------


def sniff_format(data: bytes) -> str | None:
    """The container of ``data`` from its magic bytes: wav, mp3, ogg, flac, webm, mp4 — or None."""
    head = bytes(data[:12])
    if head[:4] in (b"RIFF", b"RF64") and head[8:12] == b"WAVE":
        return "wav"
    if head[:4] == b"OggS":
        return "ogg"
    if head[:4] == b"fLaC":
        return "flac"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "webm"
    if head[4:8] == b"ftyp":
        return "mp4"
    if head[:3] == b"ID3" and _id3v2_size(data) is not None:
        return "mp3"
    if _mpeg_stream_starts_at(data, 0):
        return "mp3"
    return None


# -- duration ------------------------------------------------------------------------------------------------------


def measure_duration(data: bytes, content_type: str | None = None) -> float | None:
    """Seconds of audio in ``data``, or None when the headers do not say (never raises on hostile input)."""
    try:
        fmt = sniff_format(data)
        measure = _MEASURERS.get(fmt) if fmt else None
        if measure is not None:
            seconds = measure(data)
        else:
            seconds = _raw_pcm_duration(data, content_type)
    except (struct.error, IndexError, ValueError, ZeroDivisionError, OverflowError):
        return None  # a parser missed a bound: hostile input is "unknown", never a 500
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return None
    return seconds


# -- WAV -------------------------------------------------------------------------------------------------------------

_STREAMING_SIZES = (0, 0xFFFFFFFF)  # writers that do not know the length yet (pipes, live capture)


class _Wav(NamedTuple):
    format_tag: int
    channels: int
    sample_rate: int
    byte_rate: int
    block_align: int
    bits: int
    data_start: int
    data_size: int
    fact_samples: int | None


def _parse_wav(data: bytes) -> _Wav | None:
    """Walk the RIFF chunks (fmt may be followed by LIST, fact, ...; fmt may even come after data)."""
    if len(data) < 12 or data[8:12] != b"WAVE":
        return None
    fmt: tuple[int, int, int, int, int, int] | None = None
    fact_samples = None
    data_start = data_size = None
    pos = 12
    while pos + 8 <= len(data):
        chunk_id = data[pos : pos + 4]
        (size,) = struct.unpack_from("<I", data, pos + 4)
        body = pos + 8
        if chunk_id == b"fmt " and size >= 16 and body + 16 <= len(data):
            fmt = struct.unpack_from("<HHIIHH", data, body)
            if fmt[0] == 0xFFFE and size >= 40 and body + 26 <= len(data):  # WAVE_FORMAT_EXTENSIBLE: real tag inside
                (sub_tag,) = struct.unpack_from("<H", data, body + 24)
                fmt = (sub_tag, *fmt[1:])
        elif chunk_id == b"fact" and size >= 4 and body + 4 <= len(data):
            (fact_samples,) = struct.unpack_from("<I", data, body)
        elif chunk_id == b"data":
            remaining = len(data) - body
            data_start = body
            if size in _STREAMING_SIZES or size > remaining:
                data_size = remaining  # streaming header, or a truncated upload: measure what is really here
                break
            data_size = size
        pos = body + size + (size & 1)  # chunks are word-aligned
    if fmt is None or data_start is None or data_size is None:
        return None
    return _Wav(*fmt, data_start=data_start, data_size=data_size, fact_samples=fact_samples)


_PCM_TAGS = (1, 3)  # integer PCM, IEEE float


def _wav_duration(data: bytes) -> float | None:
    wav = _parse_wav(data)
    if wav is None:
        return None
    if wav.format_tag in _PCM_TAGS and wav.block_align > 0 and wav.sample_rate > 0:
        return (wav.data_size // wav.block_align) / wav.sample_rate
    if wav.fact_samples is not None and wav.sample_rate > 0:  # compressed WAV: the sample count is declared
        return wav.fact_samples / wav.sample_rate
    if wav.byte_rate > 0:
        return wav.data_size / wav.byte_rate
    return None


def wav_from_pcm(pcm: bytes, sample_rate: int, channels: int = 1, bits: int = 16) -> bytes:
    """A canonical 44-byte RIFF/WAVE header around little-endian integer PCM."""
    block_align = channels * bits // 8
    header = b"RIFF" + struct.pack("<I", 36 + len(pcm)) + b"WAVE"
    header += b"fmt " + struct.pack(
        "<IHHIIHH", 16, 1, channels, sample_rate, sample_rate * block_align, block_align, bits
    )
    header += b"data" + struct.pack("<I", len(pcm))
    return header + pcm


def pcm_from_wav(data: bytes) -> tuple[bytes, int, int]:
    """(pcm, sample_rate, channels) of a 16-bit integer PCM WAV; ValueError for anything else."""
    wav = _parse_wav(data) if data[:4] in (b"RIFF", b"RF64") else None
    if wav is None:
        raise ValueError("not a WAV file (no RIFF/WAVE header with fmt and data chunks)")
    if wav.format_tag != 1 or wav.bits != 16:
        raise ValueError(f"WAV is not 16-bit integer PCM (format {wav.format_tag}, {wav.bits} bits)")
    if wav.sample_rate <= 0 or wav.channels <= 0:
        raise ValueError("WAV header has no sample rate or channel count")
    frame = 2 * wav.channels
    size = wav.data_size - wav.data_size % frame
    return bytes(data[wav.data_start : wav.data_start + size]), wav.sample_rate, wav.channels


# -- MP3 -------------------------------------------------------------------------------------------------------------

_MPEG1, _MPEG2, _MPEG25 = 3, 2, 0  # the version bits
_SAMPLE_RATES = {_MPEG1: (44100, 48000, 32000), _MPEG2: (22050, 24000, 16000), _MPEG25: (11025, 12000, 8000)}
# kbit/s by (MPEG-1?, layer) for bitrate index 1..14 (0 is "free format", 15 is invalid: both rejected).
_BITRATES = {
    (True, 1): (32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),
    (True, 2): (32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),
    (True, 3): (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    (False, 1): (32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256),
    (False, 2): (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
    (False, 3): (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}


class _Frame(NamedTuple):
    version: int
    layer: int
    sample_rate: int
    samples: int
    length: int
    mono: bool


def _frame_at(data: bytes, pos: int) -> _Frame | None:
    """The MPEG audio frame header at ``pos``, if those four bytes are a valid one."""
    if pos < 0 or pos + 4 > len(data):
        return None
    b1, b2, b3 = data[pos + 1], data[pos + 2], data[pos + 3]
    if data[pos] != 0xFF or b1 & 0xE0 != 0xE0:
        return None
    version, layer_bits = (b1 >> 3) & 3, (b1 >> 1) & 3
    bitrate_index, rate_index, padding = b2 >> 4, (b2 >> 2) & 3, (b2 >> 1) & 1
    if version == 1 or layer_bits == 0 or bitrate_index in (0, 15) or rate_index == 3:
        return None
    layer = 4 - layer_bits
    mpeg1 = version == _MPEG1
    bitrate = _BITRATES[(mpeg1, layer)][bitrate_index - 1] * 1000
    sample_rate = _SAMPLE_RATES[version][rate_index]
    if layer == 1:
        samples, length = 384, (12 * bitrate // sample_rate + padding) * 4
    else:
        samples = 1152 if (layer == 2 or mpeg1) else 576
        length = (samples // 8) * bitrate // sample_rate + padding
    return _Frame(version, layer, sample_rate, samples, length, mono=(b3 >> 6) == 3)


def _same_stream(a: _Frame, b: _Frame) -> bool:
    return (a.version, a.layer, a.sample_rate) == (b.version, b.layer, b.sample_rate)


def _mpeg_stream_starts_at(data: bytes, pos: int) -> bool:
    """A frame header at ``pos`` whose successor sits exactly where its length says (or the data ends there)."""
    first = _frame_at(data, pos)
    if first is None:
        return False
    following = pos + first.length
    if following == len(data):
        return True
    second = _frame_at(data, following)
    return second is not None and _same_stream(first, second)


def _id3v2_size(data: bytes) -> int | None:
    """Bytes taken by a leading ID3v2 tag (header + syncsafe size + optional footer)."""
    if len(data) < 10 or data[:3] != b"ID3" or any(b & 0x80 for b in data[6:10]):
        return None
    size = (data[6] << 21) | (data[7] << 14) | (data[8] << 7) | data[9]
    return 10 + size + (10 if data[5] & 0x10 else 0)


def _vbr_frame_count(data: bytes, pos: int, frame: _Frame) -> int | None:
    """The total frame count a Xing/Info or VBRI header in the first frame declares."""
    side_info = (17 if frame.mono else 32) if frame.version == _MPEG1 else (9 if frame.mono else 17)
    xing = pos + 4 + side_info
    if data[xing : xing + 4] in (b"Xing", b"Info") and xing + 12 <= len(data):
        (flags,) = struct.unpack_from(">I", data, xing + 4)
        if flags & 1:
            (frames,) = struct.unpack_from(">I", data, xing + 8)
            return frames or None
    vbri = pos + 4 + 32
    if data[vbri : vbri + 4] == b"VBRI" and vbri + 18 <= len(data):
        (frames,) = struct.unpack_from(">I", data, vbri + 14)
        return frames or None
    return None


def _mp3_duration(data: bytes) -> float | None:
    pos = _id3v2_size(data) or 0
    first = _frame_at(data, pos)
    if first is None:
        return None
    declared = _vbr_frame_count(data, pos, first)
    if declared is not None:
        return declared * first.samples / first.sample_rate
    samples = 0
    while True:
        frame = _frame_at(data, pos)
        # Stop at garbage, an ID3v1/APE tag, a different stream, or a truncated last frame.
        if frame is None or not _same_stream(first, frame) or pos + frame.length > len(data):
            break
        samples += frame.samples
        pos += frame.length
    return samples / first.sample_rate if samples else None


# -- Ogg (Opus, Vorbis, FLAC) -----------------------------------------------------------------------------------------

_NO_GRANULE = 0xFFFFFFFFFFFFFFFF  # "no packet ends on this page"


def _ogg_pages(data: bytes) -> Iterator[tuple[int, int, bytes]]:
    """(granule, serial, body) of each complete page, stopping at the first damaged one."""
    pos = 0
    while pos + 27 <= len(data) and data[pos : pos + 4] == b"OggS":
        granule, serial = struct.unpack_from("<QI", data, pos + 6)
        segments = data[pos + 26]
        table_end = pos + 27 + segments
        if table_end > len(data):
            return
        body_end = table_end + sum(data[pos + 27 : table_end])
        if body_end > len(data):
            return
        yield granule, serial, data[table_end:body_end]
        pos = body_end


def _ogg_duration(data: bytes) -> float | None:
    pages = _ogg_pages(data)
    first = next(pages, None)
    if first is None:
        return None
    _, serial, head = first
    pre_skip = 0
    if head[:8] == b"OpusHead" and len(head) >= 19:
        rate = 48000  # Opus granules always count 48 kHz samples, whatever the input rate was
        (pre_skip,) = struct.unpack_from("<H", head, 10)
    elif head[:7] == b"\x01vorbis" and len(head) >= 16:
        (rate,) = struct.unpack_from("<I", head, 12)
    elif head[:5] == b"\x7fFLAC" and head[9:13] == b"fLaC":
        info = _flac_streaminfo(head, 13)
        rate = info[0] if info else 0
    else:
        return None
    last = None
    for granule, page_serial, _ in pages:
        if page_serial == serial and granule != _NO_GRANULE:
            last = granule
    if last is None or rate <= 0:
        return None
    return max(0, last - pre_skip) / rate


# -- FLAC --------------------------------------------------------------------------------------------------------------


def _flac_streaminfo(data: bytes, pos: int) -> tuple[int, int] | None:
    """(sample_rate, total_samples) from the STREAMINFO metadata block header at ``pos``."""
    if pos + 4 + 18 > len(data) or data[pos] & 0x7F != 0:
        return None
    (packed,) = struct.unpack_from(">Q", data, pos + 4 + 10)
    sample_rate = packed >> 44
    total_samples = packed & ((1 << 36) - 1)
    return sample_rate, total_samples


def _flac_duration(data: bytes) -> float | None:
    info = _flac_streaminfo(data, 4)
    if info is None or info[0] <= 0 or info[1] <= 0:  # total 0 means "unknown" in FLAC
        return None
    return info[1] / info[0]


# -- MP4 / M4A ----------------------------------------------------------------------------------------------------------


def _mp4_boxes(data: bytes, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """(type, body start, body end) of the boxes between ``start`` and ``end``."""
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, pos)
        header = 8
        if size == 1 and pos + 16 <= end:
            (size,) = struct.unpack_from(">Q", data, pos + 8)
            header = 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            return
        yield kind, pos + header, pos + size
        pos += size


def _mp4_duration(data: bytes) -> float | None:
    for kind, start, end in _mp4_boxes(data, 0, len(data)):
        if kind != b"moov":
            continue
        for inner, body, body_end in _mp4_boxes(data, start, end):
            if inner != b"mvhd" or body_end - body < 20:
                continue
            if data[body] == 1:
                if body_end - body < 32:
                    return None
                timescale, duration = struct.unpack_from(">IQ", data, body + 20)
            else:
                timescale, duration = struct.unpack_from(">II", data, body + 12)
            if timescale == 0 or duration in (0xFFFFFFFF, 0xFFFFFFFFFFFFFFFF):
                return None
            return duration / timescale
    return None


# -- raw PCM -------------------------------------------------------------------------------------------------------------

_RAW_PCM_TYPES = ("audio/pcm", "audio/l16")


def _raw_pcm_duration(data: bytes, content_type: str | None) -> float | None:
    """16-bit PCM whose rate (and channel count) the content type states; raw bytes alone say nothing."""
    if not content_type:
        return None
    media_type, *params = (part.strip() for part in content_type.split(";"))
    if media_type.lower() not in _RAW_PCM_TYPES:
        return None
    values = {}
    for param in params:
        name, _, value = param.partition("=")
        values[name.strip().lower()] = value.strip().strip('"')
    try:
        rate = int(values.get("rate", ""))
        channels = int(values.get("channels", "1"))
    except ValueError:
        return None
    if rate <= 0 or channels <= 0:
        return None
    return (len(data) // (2 * channels)) / rate


_MEASURERS = {
    "wav": _wav_duration,
    "mp3": _mp3_duration,
    "ogg": _ogg_duration,
    "flac": _flac_duration,
    "mp4": _mp4_duration,
}

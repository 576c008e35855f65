"""Deterministic, real audio for fakes: a sine as 16-bit PCM, WAV around it, and silent-but-valid MP3 frames.

Fakes return real containers so the gateway's audio measurements (WAV header, MP3 frame headers) are exercised
against what a decoder would accept, not against arbitrary bytes.
"""

from __future__ import annotations

import math
import struct

# MPEG-1 Layer III, 128 kbit/s, 44.1 kHz, no CRC, no padding, stereo: 417-byte frames of 1,152 samples.
_MP3_HEADER = bytes([0xFF, 0xFB, 0x90, 0x00])
MP3_FRAME_BYTES = 417
MP3_FRAME_SECONDS = 1152 / 44100


def sine_pcm(seconds: float, sample_rate: int = 16000, freq: float = 440.0, amplitude: float = 0.3) -> bytes:
    """Mono signed 16-bit little-endian PCM."""
    n = int(seconds * sample_rate)
    peak = int(32767 * amplitude)
    return struct.pack(f"<{n}h", *(int(peak * math.sin(2 * math.pi * freq * i / sample_rate)) for i in range(n)))


def wav(pcm: bytes, sample_rate: int = 16000, channels: int = 1, bits: int = 16) -> bytes:
    """A canonical 44-byte RIFF/WAVE header around PCM."""
    block_align = channels * bits // 8
    header = b"RIFF" + struct.pack("<I", 36 + len(pcm)) + b"WAVE"
    header += b"fmt " + struct.pack(
        "<IHHIIHH", 16, 1, channels, sample_rate, sample_rate * block_align, block_align, bits
    )
    header += b"data" + struct.pack("<I", len(pcm))
    return header + pcm


def sine_wav(seconds: float, sample_rate: int = 16000) -> bytes:
    return wav(sine_pcm(seconds, sample_rate), sample_rate)


def silent_mp3(seconds: float) -> bytes:
    """Whole MP3 frames (zeroed side info and main data decode as silence) covering at least ``seconds``."""
    frames = max(1, math.ceil(seconds / MP3_FRAME_SECONDS))
    frame = _MP3_HEADER + bytes(MP3_FRAME_BYTES - len(_MP3_HEADER))
    return frame * frames


def ogg_crc(page: bytes) -> int:
    """Ogg's CRC-32 (polynomial 0x04C11DB7, no reflection), over the page with its CRC field zeroed."""
    crc = 0
    for byte in page:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
            crc &= 0xFFFFFFFF
    return crc


def ogg_page(
    body: bytes, granule: int, seq: int, serial: int = 0x1234, header_type: int = 0, packets: list[int] | None = None
) -> bytes:
    """One Ogg page. ``packets`` lists the packet sizes in ``body`` (default: ``body`` is one packet)."""
    lacing: list[int] = []
    for size in packets if packets is not None else [len(body)]:
        lacing += [255] * (size // 255) + [size % 255]
    page = b"OggS" + struct.pack("<BBQIII", 0, header_type, granule, serial, seq, 0) + bytes([len(lacing), *lacing])
    page += body
    return page[:22] + struct.pack("<I", ogg_crc(page)) + page[26:]


def opus_head(pre_skip: int, input_rate: int = 48000) -> bytes:
    return b"OpusHead" + struct.pack("<BBHIhB", 1, 1, pre_skip, input_rate, 0, 0)


OPUS_PRE_SKIP = 312
_OPUS_SILENT_PACKET = b"\xf8"  # TOC only: CELT fullband 20 ms, mono, one zero-length frame (decoded as silence)


def silent_ogg_opus(seconds: float) -> bytes:
    """A real Ogg Opus stream (OpusHead, OpusTags, then 20 ms packets, one page per second) whose last granule
    position says exactly how long it is, as Opus encoders write it."""
    pages = [
        ogg_page(opus_head(OPUS_PRE_SKIP), 0, 0, header_type=2),
        ogg_page(b"OpusTags" + struct.pack("<I", 4) + b"fake" + struct.pack("<I", 0), 0, 1),
    ]
    packets_total = max(1, math.ceil(seconds / 0.02))
    done, seq = 0, 2
    while done < packets_total:
        count = min(50, packets_total - done)
        done += count
        last = done == packets_total
        pages.append(
            ogg_page(
                _OPUS_SILENT_PACKET * count,
                OPUS_PRE_SKIP + done * 960,
                seq,
                header_type=4 if last else 0,
                packets=[1] * count,
            )
        )
        seq += 1
    return b"".join(pages)


def audio_for_format(fmt: str, seconds: float, sample_rate: int = 24000) -> bytes:
    """What a TTS fake returns for a requested output format."""
    if fmt in ("mp3", "mpeg"):
        return silent_mp3(seconds)
    if fmt in ("wav", "linear16-wav"):
        return sine_wav(seconds, sample_rate)
    if fmt in ("pcm", "linear16"):
        return sine_pcm(seconds, sample_rate)
    return silent_ogg_opus(seconds)

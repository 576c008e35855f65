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
    header += b"fmt " + struct.pack("<IHHIIHH", 16, 1, channels, sample_rate, sample_rate * block_align, block_align, bits)
    header += b"data" + struct.pack("<I", len(pcm))
    return header + pcm


def sine_wav(seconds: float, sample_rate: int = 16000) -> bytes:
    return wav(sine_pcm(seconds, sample_rate), sample_rate)


def silent_mp3(seconds: float) -> bytes:
    """Whole MP3 frames (zeroed side info and main data decode as silence) covering at least ``seconds``."""
    frames = max(1, math.ceil(seconds / MP3_FRAME_SECONDS))
    frame = _MP3_HEADER + bytes(MP3_FRAME_BYTES - len(_MP3_HEADER))
    return frame * frames


def audio_for_format(fmt: str, seconds: float, sample_rate: int = 24000) -> bytes:
    """What a TTS fake returns for a requested output format."""
    if fmt in ("mp3", "mpeg"):
        return silent_mp3(seconds)
    if fmt in ("wav", "linear16-wav"):
        return sine_wav(seconds, sample_rate)
    if fmt in ("pcm", "linear16"):
        return sine_pcm(seconds, sample_rate)
    # Ogg/Opus: a real encoder is not available to fakes; an Ogg page header is enough to sniff the container.
    return b"OggS" + bytes(23) + sine_pcm(seconds, 8000)[:512]

"""Glue audio from several vendor responses into one continuous stream of one format.

Per format (decided here, documented in bench/stream/RESULTS.md):
- ``pcm``: raw samples join as they are (every vendor is asked for the same rate; 16-bit mono).
- ``wav``: the client gets *one* header, with the "unknown length" size 0xFFFFFFFF streaming players accept, and then
  only sample data: every vendor's own header is parsed and stripped. A vendor whose header says another rate,
  width or channel count cannot be joined: that is a failed attempt (before any of its bytes are sent).
- ``mp3``: frames concatenate; an ID3v2 tag at the start of a later segment is stripped (it would be heard as a
  glitch by some decoders). Frame headers describe themselves, so a rate change between vendors still decodes.
- ``opus`` (Ogg): each segment is its own logical bitstream; chained Ogg streams are valid Ogg and play in order.
"""

from __future__ import annotations

import struct

STREAMING_SIZE = 0xFFFFFFFF
ID3_HEADER = 10
MAX_WAV_HEADER = 4096


class JoinError(Exception):
    """This segment's audio cannot be appended to the stream (another sample rate, a broken header)."""


def streaming_wav_header(sample_rate: int, channels: int = 1, bits: int = 16) -> bytes:
    block_align = channels * bits // 8
    return (
        b"RIFF" + struct.pack("<I", STREAMING_SIZE) + b"WAVE"
        + b"fmt " + struct.pack("<IHHIIHH", 16, 1, channels, sample_rate, sample_rate * block_align, block_align, bits)
        + b"data" + struct.pack("<I", STREAMING_SIZE)
    )  # fmt: skip


def _parse_wav_header(data: bytes) -> tuple[int, tuple[int, int, int]] | None:
    """(offset of the sample data, (rate, channels, bits)), or None while the header is still incomplete."""
    if len(data) < 12:
        return None
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise JoinError("expected a RIFF/WAVE header")
    offset, fmt = 12, None
    while offset + 8 <= len(data):
        chunk, size = data[offset : offset + 4], struct.unpack("<I", data[offset + 4 : offset + 8])[0]
        if chunk == b"data":
            if fmt is None:
                raise JoinError("WAV data chunk before its fmt chunk")
            return offset + 8, fmt
        if offset + 8 + size > len(data):
            return None
        if chunk == b"fmt ":
            channels, rate = struct.unpack("<HI", data[offset + 10 : offset + 16])
            bits = struct.unpack("<H", data[offset + 22 : offset + 24])[0]
            fmt = (rate, channels, bits)
        offset += 8 + size + (size & 1)
    return None


class SegmentFilter:
    """One vendor response: ``feed`` each chunk, send what it returns; ``finish`` at the end of the response."""

    def __init__(self, joiner: AudioJoiner) -> None:
        self.joiner = joiner
        self._held = b""
        self._ready = joiner.format in ("pcm", "opus") or (joiner.format == "mp3" and not joiner.started)
        self._skip = 0

    def feed(self, chunk: bytes) -> bytes:
        if self._ready:
            return self._pass(chunk)
        self._held += chunk
        if self.joiner.format == "wav":
            parsed = _parse_wav_header(self._held)
            if parsed is None:
                if len(self._held) > MAX_WAV_HEADER:
                    raise JoinError("no WAV data chunk in the first 4 KiB")
                return b""
            offset, fmt = parsed
            prefix = self.joiner.accept_wav_format(fmt)
            data, self._held, self._ready = self._held[offset:], b"", True
            return prefix + self._pass(data)
        # mp3 after the first segment: strip a leading ID3v2 tag
        if len(self._held) < ID3_HEADER:
            return b""
        if self._held[:3] == b"ID3":
            size = self._held[6:10]
            self._skip = ID3_HEADER + ((size[0] << 21) | (size[1] << 14) | (size[2] << 7) | size[3])
        data, self._held, self._ready = self._held, b"", True
        return self._pass(data)

    def _pass(self, chunk: bytes) -> bytes:
        if self._skip:
            taken = min(self._skip, len(chunk))
            self._skip -= taken
            chunk = chunk[taken:]
        if chunk:
            self.joiner.started = True
        return chunk

    def finish(self) -> bytes:
        if self._ready:
            return b""
        if self.joiner.format == "wav":
            raise JoinError("the WAV response ended inside its header")
        held, self._held, self._ready = self._held, b"", True
        return self._pass(held)


class AudioJoiner:
    def __init__(self, fmt: str, sample_rate: int | None) -> None:
        self.format = fmt
        self.sample_rate = sample_rate
        self.started = False  # any audio byte sent to the client yet
        self._wav_format: tuple[int, int, int] | None = None

    def segment(self) -> SegmentFilter:
        return SegmentFilter(self)

    def accept_wav_format(self, fmt: tuple[int, int, int]) -> bytes:
        """The stream's single header for the first segment; a check that later segments match it."""
        if self._wav_format is None:
            if self.sample_rate and fmt[0] != self.sample_rate:
                raise JoinError(f"WAV at {fmt[0]} Hz, the stream is {self.sample_rate} Hz")
            self._wav_format = fmt
            return streaming_wav_header(*fmt)
        if fmt != self._wav_format:
            raise JoinError(f"WAV format {fmt} cannot join a stream of {self._wav_format}")
        return b""

"""A minimal, honest FLAC encoder for tests: mono 16-bit PCM in VERBATIM subframes (no compression).

No FLAC encoder is installed, but the format allows uncompressed subframes, so a valid stream is a few headers and
two checksums away (https://xiph.org/flac/format.html). Any conforming decoder must accept it.
"""

from __future__ import annotations

import array
import struct
import sys

BLOCK_SIZE = 4096


def _crc_table(poly: int, width: int) -> list[int]:
    top, mask = 1 << (width - 1), (1 << width) - 1
    table = []
    for byte in range(256):
        crc = byte << (width - 8)
        for _ in range(8):
            crc = ((crc << 1) ^ poly) & mask if crc & top else (crc << 1) & mask
        table.append(crc)
    return table


_CRC8 = _crc_table(0x07, 8)  # x^8 + x^2 + x + 1, initial 0
_CRC16 = _crc_table(0x8005, 16)  # x^16 + x^15 + x^2 + 1, initial 0


def _crc8(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc = _CRC8[crc ^ byte]
    return crc


def _crc16(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc = ((crc << 8) & 0xFFFF) ^ _CRC16[(crc >> 8) ^ byte]
    return crc


def _streaminfo(sample_rate: int, total_samples: int) -> bytes:
    block = min(BLOCK_SIZE, max(16, total_samples))
    # 20 bits rate | 3 bits channels-1 (0) | 5 bits bits-per-sample-1 (15) | 36 bits total samples
    packed = (sample_rate << 44) | (0 << 41) | (15 << 36) | total_samples
    body = struct.pack(">HH", block, block) + bytes(6) + packed.to_bytes(8, "big") + bytes(16)  # MD5 0: unknown
    return bytes([0x80]) + len(body).to_bytes(3, "big") + body  # last metadata block, type 0 (STREAMINFO)


def _frame(number: int, samples: bytes) -> bytes:
    count = len(samples) // 2
    header = bytes([0xFF, 0xF8])  # sync code, fixed block size
    header += bytes([0x70])  # block size: 16-bit (size-1) at the end of the header; rate: from STREAMINFO
    header += bytes([0x08])  # channels: mono; sample size: 16 bits
    assert number < 0xD800, "frame numbers this large need the 5/6-byte forms"
    header += chr(number).encode("utf-8")  # frame number, "UTF-8" coded
    header += struct.pack(">H", count - 1)
    header += bytes([_crc8(header)])
    words = array.array("h", samples)
    if sys.byteorder == "little":
        words.byteswap()  # FLAC stores samples big-endian
    big_endian = words.tobytes()
    frame = header + bytes([0x02]) + big_endian  # subframe: VERBATIM, no wasted bits
    return frame + struct.pack(">H", _crc16(frame))


def flac_from_pcm(pcm: bytes, sample_rate: int) -> bytes:
    """A FLAC file holding mono 16-bit little-endian ``pcm``."""
    pcm = pcm[: len(pcm) - len(pcm) % 2]
    step = BLOCK_SIZE * 2
    frames = [_frame(n, pcm[offset : offset + step]) for n, offset in enumerate(range(0, len(pcm), step))]
    return b"fLaC" + _streaminfo(sample_rate, len(pcm) // 2) + b"".join(frames)

"""Hostile audio headers are refused before any vendor or engine works on them: sample rates no audio has, absurd
channel counts and sample widths, block sizes that contradict the header, durations the bytes cannot hold — in
WAV, FLAC, MP3 and MP4. Real audio of every kind passes."""

from __future__ import annotations

import struct

import pytest

from gateway.audio_checks import audio_problem
from tests.conftest import GatewayHarness
from tests.fakes.audio import MP3_FRAME_BYTES, silent_mp3, sine_pcm, sine_wav, wav
from tests.fakes.harness import FakeServer
from tests.gateway.test_audio import MPEG1_L3_128K_44K_STEREO, fmt_chunk, mp3_frame, mp4, riff, streaminfo
from tests.providers.local.flac import flac_from_pcm


def raw_fmt(tag: int, channels: int, rate: int, byte_rate: int, align: int, bits: int) -> tuple[bytes, bytes]:
    return b"fmt ", struct.pack("<HHIIHH", tag, channels, rate, byte_rate, align, bits)


KB = bytes(1024)
HOSTILE = {
    "wav at 1 Hz": riff(fmt_chunk(1), (b"data", KB)),
    "wav at 2^31 Hz": riff(fmt_chunk(2**31 - 1), (b"data", KB)),
    "wav at 2 kHz": riff(fmt_chunk(2000), (b"data", KB)),
    "wav with 0 channels": riff(raw_fmt(1, 0, 16000, 0, 0, 16), (b"data", KB)),
    "wav with 65535 channels": riff(raw_fmt(1, 65535, 16000, 16000 * 2 * 65535 % 2**32, 0xFFFE, 16), (b"data", KB)),
    "wav with 7-bit samples": riff(fmt_chunk(16000, bits=7), (b"data", KB)),
    "wav with 128-bit samples": riff(raw_fmt(1, 1, 16000, 16000 * 16, 16, 128), (b"data", KB)),
    "wav whose byte rate says 1 B/s": riff(raw_fmt(1, 1, 16000, 1, 2, 16), (b"data", KB)),
    "wav whose block align says 1 byte": riff(raw_fmt(1, 2, 16000, 16000, 1, 16), (b"data", KB)),
    "adpcm wav declaring a day in 1 KB": riff(
        raw_fmt(0x11, 1, 8000, 4055, 256, 4), (b"fact", struct.pack("<I", 8000 * 86400)), (b"data", KB)
    ),
    "wav without a data chunk": riff(fmt_chunk(16000)),
    "flac at 1 Hz": b"fLaC" + streaminfo(1, 1000) + KB,
    "flac declaring 2^35 samples in 1 KB": b"fLaC" + streaminfo(16000, 2**35) + KB,
    "mp3 whose Xing tag declares 10^7 frames": mp3_frame(
        MPEG1_L3_128K_44K_STEREO, MP3_FRAME_BYTES, at=36, marker=b"Xing" + struct.pack(">II", 0x1, 10**7)
    )
    + silent_mp3(0.1),
    "mp4 declaring 10^6 s": mp4(1000, 10**9),
}

REAL = {
    "wav 16 kHz": sine_wav(1.0),
    "wav 8 kHz stereo": wav(sine_pcm(0.5, 8000) * 2, 8000, channels=2),
    "wav 48 kHz 24-bit": wav(bytes(48000 * 3), 48000, bits=24),
    "mp3": silent_mp3(1.0),
    "flac": flac_from_pcm(sine_pcm(1.0), 16000),
    "mp4": mp4(1000, 1000),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_headers_are_named(name: str) -> None:
    assert audio_problem(HOSTILE[name]) is not None


@pytest.mark.parametrize("name", sorted(REAL))
def test_real_audio_passes(name: str) -> None:
    assert audio_problem(REAL[name]) is None


async def test_hostile_uploads_are_a_400_before_any_vendor_is_called(
    gw: GatewayHarness, deepgram_fake: FakeServer
) -> None:
    for name, data in HOSTILE.items():
        r = await gw.client.post("/voice/transcribe?provider=deepgram", content=data,
                                 headers={**gw.auth(), "Content-Type": "application/octet-stream"})  # fmt: skip
        assert r.status_code == 400, (name, r.status_code, r.text[:300])
        assert r.json()["error"]["type"] == "invalid_request", name
        r = await gw.client.post("/v1/audio/transcriptions", files={"file": ("a.bin", data)},
                                 data={"model": "whisper-1"}, headers=gw.auth())  # fmt: skip
        assert r.status_code == 400, (name, r.status_code, r.text[:300])
    assert deepgram_fake.state.requests == [], "a vendor was called with hostile audio"
    r = await gw.client.post("/voice/transcribe?provider=deepgram", content=sine_wav(1.0),
                             headers={**gw.auth(), "Content-Type": "audio/wav"})  # fmt: skip
    assert r.status_code == 200, r.text

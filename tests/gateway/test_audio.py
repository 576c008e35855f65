"""Audio sniffing and measurement against real containers built here to their specs (and a real decoder)."""

from __future__ import annotations

import random
import struct

import miniaudio
import pytest

from gateway.audio import (
    AUDIO_MEDIA_TYPES,
    content_type_for,
    measure_duration,
    pcm_from_wav,
    sniff_format,
    wav_from_pcm,
)
from tests.fakes.audio import (
    MP3_FRAME_BYTES,
    MP3_FRAME_SECONDS,
    ogg_page,
    opus_head,
    silent_mp3,
    sine_pcm,
    sine_wav,
    wav,
)

# -- container builders (to the specs, only as much as the headers need) ---------------------------------------------


def riff(*chunks: tuple[bytes, bytes], form: bytes = b"RIFF") -> bytes:
    body = b"WAVE"
    for chunk_id, payload in chunks:
        body += chunk_id + struct.pack("<I", len(payload)) + payload + (b"\0" if len(payload) % 2 else b"")
    return form + struct.pack("<I", len(body)) + body


def fmt_chunk(rate: int, channels: int = 1, bits: int = 16, tag: int = 1) -> tuple[bytes, bytes]:
    align = channels * bits // 8
    return b"fmt ", struct.pack("<HHIIHH", tag, channels, rate, rate * align, align, bits)


def id3v2(payload_size: int) -> bytes:
    syncsafe = bytes((payload_size >> shift) & 0x7F for shift in (21, 14, 7, 0))
    return b"ID3\x04\x00\x00" + syncsafe + bytes(payload_size)


def mp3_frame(header: bytes, length: int, at: int = 0, marker: bytes = b"") -> bytes:
    frame = bytearray(length)
    frame[:4] = header
    frame[at : at + len(marker)] = marker
    return bytes(frame)


MPEG1_L3_128K_44K_STEREO = bytes([0xFF, 0xFB, 0x90, 0x00])
MPEG2_L3_64K_22K_MONO = bytes([0xFF, 0xF3, 0x80, 0xC0])  # 72 * 64000 / 22050 = 208 bytes, 576 samples
MPEG2_FRAME_BYTES = 208


def vorbis_id(rate: int) -> bytes:
    return b"\x01vorbis" + struct.pack("<IBIiiiBB", 0, 1, rate, 0, 128000, 0, 0xB8, 1)


def ogg_stream(head: bytes, granules: list[int], serial: int = 0x1234) -> bytes:
    pages = [ogg_page(head, 0, 0, serial, header_type=2), ogg_page(b"tags", 0, 1, serial)]
    for seq, granule in enumerate(granules, start=2):
        pages.append(ogg_page(bytes(300), granule, seq, serial, header_type=4 if seq == len(granules) + 1 else 0))
    return b"".join(pages)


def streaminfo(rate: int, total_samples: int, channels: int = 1, bits: int = 16, last: bool = True) -> bytes:
    packed = (rate << 44) | ((channels - 1) << 41) | ((bits - 1) << 36) | total_samples
    body = struct.pack(">HH", 4096, 4096) + bytes(6) + struct.pack(">Q", packed) + bytes(16)
    return bytes([0x80 if last else 0]) + len(body).to_bytes(3, "big") + body


def box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def mp4(timescale: int, duration: int, version: int = 0) -> bytes:
    if version == 0:
        mvhd = struct.pack(">B3xIIII", 0, 0, 0, timescale, duration) + bytes(80)
    else:
        mvhd = struct.pack(">B3xQQIQ", 1, 0, 0, timescale, duration) + bytes(80)
    return box(b"ftyp", b"M4A \0\0\0\0isomM4A ") + box(b"moov", box(b"mvhd", mvhd)) + box(b"mdat", bytes(100))


def decoded_seconds(data: bytes) -> float:
    sound = miniaudio.decode(data)
    return sound.num_frames / sound.sample_rate


# -- sniffing --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "fmt"),
    [
        (sine_wav(0.1), "wav"),
        (silent_mp3(0.1), "mp3"),
        (id3v2(64) + silent_mp3(0.1), "mp3"),
        (ogg_stream(opus_head(312), [4800]), "ogg"),
        (b"fLaC" + streaminfo(16000, 16000), "flac"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01webm", "webm"),
        (mp4(1000, 1000), "mp4"),
    ],
)
def test_sniff_recognises_each_container(data: bytes, fmt: str) -> None:
    assert sniff_format(data) == fmt
    assert content_type_for(fmt) in AUDIO_MEDIA_TYPES


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"hello, this is plain text",
        b'{"text": "not audio"}',
        b"<!DOCTYPE html><html><body>Bad gateway</body></html>",
        random.Random(7).randbytes(4096),
        MPEG1_L3_128K_44K_STEREO + bytes(100),  # a frame sync with no second frame where the first says
        MPEG1_L3_128K_44K_STEREO + bytes(MP3_FRAME_BYTES - 4) + b"garbage!",
        bytes([0xFF, 0xFF, 0xFF, 0xFF]) * 200,  # sync bits but reserved/invalid header fields
    ],
)
def test_sniff_rejects_non_audio(data: bytes) -> None:
    assert sniff_format(data) is None
    assert measure_duration(data) is None


def test_sniff_validates_frame_chain_for_mpeg2_frames() -> None:
    stream = mp3_frame(MPEG2_L3_64K_22K_MONO, MPEG2_FRAME_BYTES) * 3
    assert sniff_format(stream) == "mp3"


def test_canonical_content_types() -> None:
    assert content_type_for("mp3") == "audio/mpeg"
    assert content_type_for("wav") == "audio/wav"
    assert content_type_for("nonsense") == "application/octet-stream"
    assert {"audio/x-wav", "audio/mp3", "audio/x-flac", "application/octet-stream"} <= AUDIO_MEDIA_TYPES


# -- WAV -------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("seconds", "rate"), [(1.5, 16000), (0.25, 24000), (2.0, 8000)])
def test_wav_duration_matches_a_decoder(seconds: float, rate: int) -> None:
    data = sine_wav(seconds, rate)
    assert measure_duration(data, "audio/wav") == pytest.approx(seconds)
    assert measure_duration(data) == pytest.approx(decoded_seconds(data))


def test_wav_walks_chunks_between_fmt_and_data() -> None:
    pcm = sine_pcm(0.75, 16000)
    odd_list = (b"LIST", b"INFOISFT\x05\x00\x00\x00Lavf\x00")  # odd size: padded to a word boundary
    data = riff(fmt_chunk(16000), odd_list, (b"fact", struct.pack("<I", 12000)), (b"data", pcm))
    assert measure_duration(data) == pytest.approx(0.75)
    assert measure_duration(data) == pytest.approx(decoded_seconds(data))


def test_wav_stereo_uses_block_align() -> None:
    stereo = sine_pcm(0.5, 22050) * 2  # same byte count as 1 s mono: 0.5 s of 2-channel frames
    assert measure_duration(wav(stereo, 22050, channels=2)) == pytest.approx(0.5)


@pytest.mark.parametrize("declared", [0xFFFFFFFF, 0])
def test_wav_streaming_data_size_uses_remaining_bytes(declared: int) -> None:
    data = bytearray(sine_wav(1.25, 16000))
    data[40:44] = struct.pack("<I", declared)
    assert measure_duration(bytes(data)) == pytest.approx(1.25)


def test_wav_truncated_upload_measures_what_is_present() -> None:
    data = sine_wav(2.0, 16000)
    assert measure_duration(data[: 44 + 16000]) == pytest.approx(0.5)


def test_rf64_with_sentinel_sizes() -> None:
    pcm = sine_pcm(0.5, 16000)
    data = bytearray(riff((b"ds64", bytes(28)), fmt_chunk(16000), (b"data", pcm), form=b"RF64"))
    data[4:8] = b"\xff\xff\xff\xff"
    data_at = bytes(data).index(b"data")
    data[data_at + 4 : data_at + 8] = b"\xff\xff\xff\xff"
    assert sniff_format(bytes(data)) == "wav"
    assert measure_duration(bytes(data)) == pytest.approx(0.5)


def test_wav_round_trip() -> None:
    pcm = sine_pcm(0.3, 24000)
    data = wav_from_pcm(pcm, 24000)
    assert data == wav(pcm, 24000)  # byte-identical to the fakes' canonical header
    assert pcm_from_wav(data) == (pcm, 24000, 1)
    assert measure_duration(data) == pytest.approx(0.3)


def test_pcm_from_wav_finds_data_after_other_chunks() -> None:
    pcm = sine_pcm(0.1, 16000)
    data = riff((b"JUNK", bytes(27)), fmt_chunk(16000, channels=2), (b"LIST", b"INFO"), (b"data", pcm))
    assert pcm_from_wav(data) == (pcm, 16000, 2)


@pytest.mark.parametrize(
    "data",
    [
        riff(fmt_chunk(16000, bits=8), (b"data", bytes(100))),
        riff(fmt_chunk(16000, bits=32, tag=3), (b"data", bytes(100))),
        riff(fmt_chunk(16000)),
        silent_mp3(0.1),
        b"RIFF",
    ],
)
def test_pcm_from_wav_rejects_anything_but_16_bit_pcm(data: bytes) -> None:
    with pytest.raises(ValueError):
        pcm_from_wav(data)


# -- MP3 -------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seconds", [0.1, 1.0, 3.3])
def test_mp3_frames_are_summed(seconds: float) -> None:
    data = silent_mp3(seconds)
    frames = len(data) // MP3_FRAME_BYTES
    assert measure_duration(data) == pytest.approx(frames * MP3_FRAME_SECONDS)
    assert measure_duration(data) == pytest.approx(decoded_seconds(data))


def test_mp3_after_an_id3_tag_and_before_an_id3v1_tag() -> None:
    data = id3v2(1000) + silent_mp3(1.0) + b"TAG" + bytes(125)
    frames = len(silent_mp3(1.0)) // MP3_FRAME_BYTES
    assert measure_duration(data) == pytest.approx(frames * MP3_FRAME_SECONDS)
    assert measure_duration(data) == pytest.approx(decoded_seconds(data))


def test_mp3_stops_at_garbage_and_ignores_a_truncated_last_frame() -> None:
    five = silent_mp3(5 * MP3_FRAME_SECONDS)
    assert measure_duration(five + b"\x00garbage" + five) == pytest.approx(5 * MP3_FRAME_SECONDS)
    assert measure_duration(five[:-10]) == pytest.approx(4 * MP3_FRAME_SECONDS)


def test_mp3_xing_header_declares_the_frame_count() -> None:
    # MPEG-1 stereo: the Xing tag sits after 4 header bytes + 32 bytes of side info.
    xing = b"Xing" + struct.pack(">III", 0x1, 1000, 1000 * MP3_FRAME_BYTES)
    data = mp3_frame(MPEG1_L3_128K_44K_STEREO, MP3_FRAME_BYTES, at=36, marker=xing) + silent_mp3(0.1)
    assert measure_duration(data) == pytest.approx(1000 * 1152 / 44100)


def test_mp3_info_tag_without_frame_count_falls_back_to_walking() -> None:
    info = b"Info" + struct.pack(">I", 0x2) + struct.pack(">I", 12345)  # bytes field only
    first = mp3_frame(MPEG1_L3_128K_44K_STEREO, MP3_FRAME_BYTES, at=36, marker=info)
    data = first + silent_mp3(3 * MP3_FRAME_SECONDS)
    assert measure_duration(data) == pytest.approx(4 * MP3_FRAME_SECONDS)


def test_mp3_vbri_header_declares_the_frame_count() -> None:
    vbri = b"VBRI" + struct.pack(">HHHII", 1, 0, 75, 500000, 321)
    data = mp3_frame(MPEG1_L3_128K_44K_STEREO, MP3_FRAME_BYTES, at=36, marker=vbri) + silent_mp3(0.1)
    assert measure_duration(data) == pytest.approx(321 * 1152 / 44100)


def test_mpeg2_layer3_frames_count_576_samples() -> None:
    data = mp3_frame(MPEG2_L3_64K_22K_MONO, MPEG2_FRAME_BYTES) * 50
    assert measure_duration(data) == pytest.approx(50 * 576 / 22050)
    xing = b"Xing" + struct.pack(">II", 0x1, 200)  # MPEG-2 mono: side info is 9 bytes
    tagged = mp3_frame(MPEG2_L3_64K_22K_MONO, MPEG2_FRAME_BYTES, at=13, marker=xing) + data
    assert measure_duration(tagged) == pytest.approx(200 * 576 / 22050)


# -- Ogg, FLAC, MP4, raw PCM -------------------------------------------------------------------------------------------


def test_ogg_opus_last_granule_minus_pre_skip_at_48k() -> None:
    data = ogg_stream(opus_head(pre_skip=312, input_rate=16000), [48000, 96000, 2 * 48000 + 312 + 24000])
    assert sniff_format(data) == "ogg"
    assert measure_duration(data) == pytest.approx(2.5)


def test_ogg_vorbis_uses_the_identification_header_rate() -> None:
    data = ogg_stream(vorbis_id(44100), [44100, 3 * 44100])
    assert measure_duration(data, "audio/ogg") == pytest.approx(3.0)


def test_ogg_ignores_pages_without_granule_and_other_streams() -> None:
    data = ogg_stream(vorbis_id(22050), [22050]) + ogg_page(bytes(10), 0xFFFFFFFFFFFFFFFF, 9)
    data += ogg_page(bytes(10), 22050 * 100, 0, serial=0x9999)
    assert measure_duration(data) == pytest.approx(1.0)


def test_ogg_with_unknown_codec_is_unmeasured() -> None:
    assert measure_duration(ogg_stream(b"Speex   " + bytes(72), [16000])) is None


def test_flac_streaminfo() -> None:
    data = b"fLaC" + streaminfo(16000, 40000) + bytes(64)
    assert measure_duration(data, "audio/flac") == pytest.approx(2.5)
    assert measure_duration(b"fLaC" + streaminfo(48000, 0)) is None  # total 0: unknown length


@pytest.mark.parametrize("version", [0, 1])
def test_mp4_movie_header(version: int) -> None:
    assert measure_duration(mp4(44100, 44100 * 7, version)) == pytest.approx(7.0)


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        ("audio/L16; rate=16000", 1.0),
        ("audio/pcm;rate=8000", 2.0),
        ('audio/l16; rate="16000"; channels=2', 0.5),
        ("audio/pcm", None),
        ("audio/pcm; rate=0", None),
        ("audio/pcm; rate=fast", None),
        ("application/octet-stream", None),
        (None, None),
    ],
)
def test_raw_pcm_needs_a_stated_rate(content_type: str | None, expected: float | None) -> None:
    result = measure_duration(sine_pcm(1.0, 16000), content_type)
    assert result == (pytest.approx(expected) if expected is not None else None)


# -- hostile input ---------------------------------------------------------------------------------------------------

SAMPLES = [
    sine_wav(0.05),
    riff(fmt_chunk(16000), (b"LIST", b"INFO"), (b"data", sine_pcm(0.02))),
    id3v2(20) + silent_mp3(0.1),
    mp3_frame(MPEG1_L3_128K_44K_STEREO, MP3_FRAME_BYTES, at=36, marker=b"Xing\0\0\0\x01\0\0\0\x10"),
    ogg_stream(opus_head(312), [4800, 9600]),
    ogg_stream(vorbis_id(8000), [8000]),
    b"fLaC" + streaminfo(16000, 16000),
    mp4(1000, 5000),
]


@pytest.mark.parametrize("sample", SAMPLES, ids=range(len(SAMPLES)))
def test_every_truncation_is_safe(sample: bytes) -> None:
    for end in range(len(sample)):
        result = measure_duration(sample[:end])
        assert result is None or result >= 0


def test_random_bytes_behind_every_magic_never_raise() -> None:
    rng = random.Random(20261122)
    magics = [
        b"RIFF\0\0\0\0WAVE",
        b"RF64\xff\xff\xff\xffWAVE",
        b"ID3",
        b"\xff\xfb",
        b"\xff\xf3",
        b"OggS",
        b"fLaC",
        b"\0\0\0\x20ftyp",
        b"\x1a\x45\xdf\xa3",
        b"",
    ]
    for _ in range(400):
        data = rng.choice(magics) + rng.randbytes(rng.randrange(0, 600))
        result = measure_duration(data, rng.choice([None, "audio/pcm; rate=16000"]))
        assert result is None or result >= 0
    for sample in SAMPLES:  # flip bytes inside valid headers
        for _ in range(100):
            mutated = bytearray(sample)
            for _ in range(rng.randrange(1, 6)):
                mutated[rng.randrange(len(mutated))] = rng.randrange(256)
            result = measure_duration(bytes(mutated))
            assert result is None or result >= 0


@pytest.mark.parametrize(
    "data",
    [
        riff((b"fmt ", struct.pack("<HHIIHH", 1, 1, 0, 0, 0, 16)), (b"data", bytes(100))),  # zero rate and align
        riff((b"fmt ", struct.pack("<HHIIHH", 2, 1, 0, 0, 0, 4)), (b"fact", b"\x10\0\0\0"), (b"data", bytes(10))),
        b"fLaC" + streaminfo(0, 1000),
        ogg_stream(vorbis_id(0), [1000]),
        mp4(0, 1000),
        b"RIFF\0\0\0\0WAVE" + b"LIST" + b"\xf0\xff\xff\xff" + bytes(20),  # a huge chunk, no fmt or data
        b"ID3\x04\x00\x00\x7f\x7f\x7f\x7f" + silent_mp3(0.1),  # a 256 MB tag that is not there
        box(b"ftyp", b"M4A ") + struct.pack(">I4sQ", 1, b"moov", 2**63),  # 64-bit box size beyond the data
    ],
)
def test_zero_rates_and_huge_sizes_are_unmeasured(data: bytes) -> None:
    assert measure_duration(data) is None

"""/voice/stream: chunked audio, failover before the first byte, and mid-stream failover at sentence boundaries,
checked byte for byte against what each vendor fake produces for each sentence."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from gateway.streaming.joiner import streaming_wav_header
from tests.conftest import GatewayHarness, make_gateway, vendor_env
from tests.fakes.audio import audio_for_format
from tests.fakes.harness import FakeServer, Fault

SENTENCES = [
    "The first sentence is here.",
    "Then a second one follows!",
    "Is this the third?",
    "And the fourth ends it.",
]
TEXT = " ".join(SENTENCES)
RATE = 24000
NOTHING = Fault("slow")  # a no-op fault: lets a test aim the next queued fault at a later request


def openai_audio(sentence: str, fmt: str = "pcm") -> bytes:
    return audio_for_format(fmt, len(sentence) * 0.06, RATE)  # tests/fakes/openai.py: 0.06 s per character


def deepgram_audio(sentence: str, fmt: str = "pcm") -> bytes:
    return audio_for_format(fmt, min(5.0, max(0.3, len(sentence) * 0.05)), RATE)  # tests/fakes/deepgram.py


def spoken_texts(fake: FakeServer, field: str) -> list[str]:
    import json

    return [json.loads(r.body)[field] for r in fake.state.requests if r.method == "POST"]


@pytest.fixture
async def sgw(openai_fake: FakeServer, deepgram_fake: FakeServer) -> AsyncIterator[GatewayHarness]:
    env = {**vendor_env(openai_fake, deepgram_fake), "STREAM_STALL_SECONDS": "0.5"}
    async for harness in make_gateway(env):
        yield harness


async def stream(gw: GatewayHarness, fmt: str = "pcm", **extra: object):
    body = {"text": TEXT, "voiceConfig": {"format": fmt}, **extra}
    return await gw.client.post("/voice/stream", json=body, headers=gw.auth())


async def test_stream_relays_every_sentence_from_one_vendor(sgw: GatewayHarness, openai_fake: FakeServer) -> None:
    r = await stream(sgw)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "audio/pcm"
    assert (r.headers["x-provider"], r.headers["x-attempts"], r.headers["x-sample-rate"]) == ("openai", "1", "24000")
    assert r.headers["x-request-id"].startswith("req_") and float(r.headers["x-cost"]) > 0
    assert r.content == b"".join(openai_audio(s) for s in SENTENCES)
    assert spoken_texts(openai_fake, "input") == SENTENCES
    rows = await usage(sgw)
    assert [(x["provider"], x["segment"], x["characters"]) for x in rows] == [("openai", 0, sum(map(len, SENTENCES)))]


async def usage(gw: GatewayHarness) -> list[dict]:
    await gw.settle()
    return await gw.db.all("SELECT * FROM usage_records ORDER BY segment")


async def test_cut_after_two_sentences_finishes_on_another_vendor_exactly_once(
    sgw: GatewayHarness, openai_fake: FakeServer, deepgram_fake: FakeServer
) -> None:
    openai_fake.state.fail(NOTHING, NOTHING, Fault("cut", after_chunks=0))  # headers, then the connection drops
    r = await stream(sgw)
    assert r.status_code == 200, r.text
    assert r.headers["x-provider"] == "openai"
    expected = openai_audio(SENTENCES[0]) + openai_audio(SENTENCES[1])
    expected += deepgram_audio(SENTENCES[2]) + deepgram_audio(SENTENCES[3])
    assert r.content == expected  # every sentence once, in order, no fragment of the cut one
    assert spoken_texts(openai_fake, "input") == SENTENCES[:3]
    assert spoken_texts(deepgram_fake, "text") == SENTENCES[2:]
    rows = await usage(sgw)
    assert [(x["provider"], x["segment"], x["characters"]) for x in rows] == [
        ("openai", 0, len(SENTENCES[0]) + len(SENTENCES[1])),
        ("deepgram", 1, len(SENTENCES[2]) + len(SENTENCES[3])),
    ]
    await sgw.settle()
    failovers = await sgw.db.all("SELECT * FROM failover_logs")
    assert [(f["from_provider"], f["to_provider"], f["error_class"]) for f in failovers] == [
        ("openai", "deepgram", "connection")
    ]


async def test_mid_sentence_cut_in_sentence_mode_is_still_exactly_once(
    sgw: GatewayHarness, openai_fake: FakeServer
) -> None:
    openai_fake.state.fail(NOTHING, NOTHING, Fault("cut", after_chunks=3))  # half of sentence three, then gone
    r = await stream(sgw, delivery="sentence")
    assert r.status_code == 200, r.text
    assert r.content == openai_audio(SENTENCES[0]) + openai_audio(SENTENCES[1]) + deepgram_audio(
        SENTENCES[2]
    ) + deepgram_audio(SENTENCES[3])


async def test_mid_sentence_cut_in_live_mode_repeats_only_the_cut_sentence(
    sgw: GatewayHarness, openai_fake: FakeServer
) -> None:
    openai_fake.state.fail(NOTHING, NOTHING, Fault("cut", after_chunks=3))
    r = await stream(sgw)
    assert r.status_code == 200, r.text
    head = openai_audio(SENTENCES[0]) + openai_audio(SENTENCES[1])
    tail = deepgram_audio(SENTENCES[2]) + deepgram_audio(SENTENCES[3])
    assert r.content.startswith(head) and r.content.endswith(tail)
    fragment = r.content[len(head) : len(r.content) - len(tail)]
    assert 0 < len(fragment) < len(openai_audio(SENTENCES[2])) and openai_audio(SENTENCES[2]).startswith(fragment)
    rows = await usage(sgw)
    assert [(x["provider"], x["characters"]) for x in rows] == [
        ("openai", len(SENTENCES[0]) + len(SENTENCES[1])),
        ("deepgram", len(SENTENCES[2]) + len(SENTENCES[3])),
    ]


async def test_a_stalled_body_fails_over(sgw: GatewayHarness, openai_fake: FakeServer) -> None:
    openai_fake.state.options["chunk_delay"] = 3.0  # first chunk, then silence longer than STREAM_STALL_SECONDS
    r = await stream(sgw)
    assert r.status_code == 200, r.text
    assert r.content.endswith(b"".join(deepgram_audio(s) for s in SENTENCES))
    await sgw.settle()
    failovers = await sgw.db.all("SELECT * FROM failover_logs")
    assert [(f["from_provider"], f["error_class"]) for f in failovers] == [("openai", "timeout")]


async def test_wav_streams_get_one_streaming_header(sgw: GatewayHarness, openai_fake: FakeServer) -> None:
    openai_fake.state.fail(NOTHING, Fault("status", status=503))
    r = await stream(sgw, fmt="wav")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "audio/wav"
    header = streaming_wav_header(RATE)
    pcm = openai_audio(SENTENCES[0]) + b"".join(deepgram_audio(s) for s in SENTENCES[1:])
    assert r.content == header + pcm
    assert r.content.count(b"RIFF") == 1


async def test_mp3_frames_concatenate(sgw: GatewayHarness, openai_fake: FakeServer) -> None:
    openai_fake.state.fail(Fault("status", status=500))
    r = await stream(sgw, fmt="mp3")
    assert r.status_code == 200, r.text
    assert r.headers["x-provider"] == "deepgram" and r.headers["x-attempts"] == "2"
    assert r.content == b"".join(deepgram_audio(s, "mp3") for s in SENTENCES)


async def test_every_vendor_failing_before_the_first_byte_is_an_error_response(
    sgw: GatewayHarness, openai_fake: FakeServer, deepgram_fake: FakeServer
) -> None:
    openai_fake.state.fail(Fault("status", status=503))
    deepgram_fake.state.fail(Fault("status", status=503))
    r = await stream(sgw)
    assert r.status_code == 502
    error = r.json()["error"]
    assert error["type"] == "upstream_error" and [a["provider"] for a in error["attempts"]] == ["openai", "deepgram"]
    assert await usage(sgw) == []


async def test_invalid_delivery_mode_is_rejected(sgw: GatewayHarness) -> None:
    r = await stream(sgw, delivery="whenever")
    assert r.status_code == 422 and r.json()["error"]["type"] == "invalid_request"

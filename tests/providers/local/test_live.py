"""The incremental recognizer, its worker's pipe protocol and its wire protocol's translation, on real espeak-ng
speech (no fakes)."""

from __future__ import annotations

import io
import json
import struct

import pytest

from providers.base import Call, SynthesisRequest
from providers.local import LocalProvider
from providers.local.live import LiveRecognizer
from providers.local.live_protocol import LOCAL
from providers.local.live_worker import serve
from providers.realtime.events import Transcript, Turn

SENTENCE = "please call me tomorrow morning at the office"


@pytest.fixture
async def speech(provider: LocalProvider, call: Call) -> bytes:
    """Half a second of silence, the sentence at 16 kHz, a second of silence."""
    result = await provider.synthesize(call, SynthesisRequest(text=SENTENCE, format="pcm", sample_rate=16000))
    return bytes(16000) + result.audio + bytes(32000)


def test_a_turn_opens_interims_follow_and_the_final_closes_it(speech: bytes) -> None:
    recognizer = LiveRecognizer()
    events = [e for start in range(0, len(speech), 640) for e in recognizer.feed(speech[start : start + 640])]
    events += recognizer.finish()
    kinds = [e["type"] for e in events if e["type"] != "progress"]
    assert kinds[0] == "start" and kinds[-1] == "final" and "partial" in kinds
    assert kinds.count("start") == kinds.count("final") == 1
    start = next(e for e in events if e["type"] == "start")
    final = events[-1] if events[-1]["type"] == "final" else next(e for e in events if e["type"] == "final")
    assert 0.3 <= start["start"] <= 0.6  # the speech began after half a second
    assert final["end"] < len(speech) / 32000 - 0.4  # the endpointer ended it in the trailing silence
    heard = set(final["text"].split())
    assert len(heard & {"please", "call", "tomorrow", "morning", "office"}) >= 3, final["text"]
    assert all(start["start"] <= w[1] <= w[2] <= final["end"] + 0.05 for w in final["words"])
    # Progress keeps coming in silence, so the relay can tell a live engine from a stalled one.
    assert sum(e["type"] == "progress" for e in events) >= 3


def test_stream_end_finishes_an_open_turn(speech: bytes) -> None:
    recognizer = LiveRecognizer()
    cut = speech[: len(speech) // 2]  # the client closes mid-sentence
    events = [e for start in range(0, len(cut), 640) for e in recognizer.feed(cut[start : start + 640])]
    tail = recognizer.finish()
    assert [e["type"] for e in tail] == ["final"] and tail[0]["text"]
    assert any(e["type"] == "start" for e in events)


def frames(rate: int, pcm: bytes, frame: int) -> bytes:
    body = struct.pack(">I", rate)
    for start in range(0, len(pcm), frame):
        chunk = pcm[start : start + frame]
        body += struct.pack(">I", len(chunk)) + chunk
    return body + struct.pack(">I", 0)


@pytest.mark.parametrize("rate", [16000, 8000, 48000])
async def test_worker_protocol_at_any_session_rate(provider: LocalProvider, call: Call, rate: int) -> None:
    result = await provider.synthesize(call, SynthesisRequest(text=SENTENCE, format="pcm", sample_rate=rate))
    pcm = bytes(rate) + result.audio + bytes(rate * 2)
    out = io.BytesIO()
    serve(io.BytesIO(frames(rate, pcm, rate * 2 // 50)), out)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert lines[0] == {"type": "ready"} and lines[-1] == {"type": "closed"}
    final = next(e for e in lines if e["type"] == "final")
    assert len(set(final["text"].split()) & {"please", "call", "tomorrow", "morning", "office"}) >= 2, final
    assert 0.3 <= final["start"] < final["end"] < len(pcm) / 2 / rate  # on the session's clock, whatever its rate


def test_worker_refuses_a_broken_frame_length() -> None:
    out = io.BytesIO()
    serve(io.BytesIO(struct.pack(">I", 16000) + struct.pack(">I", 1 << 30)), out)
    assert json.loads(out.getvalue().splitlines()[-1])["type"] == "error"


def test_wire_protocol_translates_into_the_neutral_schema() -> None:
    (turn,) = LOCAL.translate({"type": "start", "turn": 2, "start": 1.5})
    assert turn == Turn("StartOfTurn", "", 2, 1.5, 1.5)
    (interim,) = LOCAL.translate({"type": "partial", "turn": 2, "text": "hello", "start": 1.5, "end": 2.0})
    assert isinstance(interim, Transcript) and not interim.is_final and interim.text == "hello"
    final, end = LOCAL.translate(
        {
            "type": "final",
            "turn": 2,
            "text": "hello world",
            "start": 1.5,
            "end": 2.4,
            "words": [["hello", 1.5, 1.9, 0.9], ["world", 1.9, 2.4, None], ["bad"]],
        }
    )
    assert isinstance(final, Transcript) and final.is_final and final.speech_final
    assert [w.word for w in final.words] == ["hello", "world"]
    assert end == Turn("EndOfTurn", "hello world", 2, 1.5, 2.4)
    assert LOCAL.translate({"type": "progress", "end": 3.0}) == ()
    assert LOCAL.is_last({"type": "closed"}) and LOCAL.error_of({"type": "error", "message": "x"}) == "x"
    assert LOCAL.emits_turns

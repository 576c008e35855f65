"""The built-in `local` engine as a user meets it: the default with no vendor account, and the last resort when every
configured vendor is down. Real espeak-ng and PocketSphinx, no fake anywhere on the speech path."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from gateway.audio import wav_from_pcm
from tests.conftest import GatewayHarness, make_gateway, require_modules, vendor_env
from tests.fakes.harness import FakeServer, Fault
from tests.test_local_server import ADMIN, LocalServer

require_modules("espeakng_loader", "pocketsphinx")

SENTENCE = "hello world this is a test of the gateway"
CONTENT_WORDS = {"hello", "world", "test", "gateway"}
TWO_SENTENCES = "The quick brown fox jumps over the lazy dog. Please call me tomorrow morning at the office."
TWO_SENTENCE_WORDS = {
    "quick",
    "brown",
    "fox",
    "jumps",
    "lazy",
    "dog",
    "please",
    "call",
    "tomorrow",
    "morning",
    "office",
}


def recovered(text: str) -> set[str]:
    return CONTENT_WORDS & set(text.lower().split())


@pytest.fixture
async def gw_with_builtin(openai_fake: FakeServer, deepgram_fake: FakeServer) -> AsyncIterator[GatewayHarness]:
    async for harness in make_gateway(vendor_env(openai_fake, deepgram_fake), builtin=True):
        yield harness


async def test_total_outage_of_configured_vendors_is_served_by_the_builtin_engine(
    gw_with_builtin: GatewayHarness, openai_fake: FakeServer, deepgram_fake: FakeServer
) -> None:
    gw = gw_with_builtin
    openai_fake.state.always(Fault("status", status=503))
    deepgram_fake.state.always(Fault("status", status=500))
    r = await gw.client.post(
        "/voice/synthesize", json={"text": SENTENCE, "voiceConfig": {"format": "wav"}}, headers=gw.auth()
    )
    assert r.status_code == 200, r.text
    assert r.headers["x-provider"] == "local" and r.headers["x-attempts"] == "3"
    assert r.headers["content-type"] == "audio/wav" and r.content[:4] == b"RIFF"
    assert r.headers["x-cost"] == "0.000000"

    t = await gw.client.post("/voice/transcribe", content=r.content, headers={**gw.auth(), "Content-Type": "audio/wav"})
    assert t.status_code == 200, t.text
    body = t.json()
    assert body["provider"] == "local" and t.headers["x-attempts"] == "3"
    assert len(recovered(body["text"])) >= 3, body["text"]

    health = (await gw.client.get("/voice/providers/health", headers=gw.auth())).json()
    assert health["local"]["status"] != "unconfigured" and set(health["local"]["capabilities"]) == {"stt", "tts"}


async def test_the_platform_can_turn_the_builtin_fallback_off(
    gw_with_builtin: GatewayHarness, openai_fake: FakeServer, deepgram_fake: FakeServer
) -> None:
    gw = gw_with_builtin
    r = await gw.client.put("/admin/platform/settings", json={"builtinFallbackEnabled": False}, headers=gw.admin)
    assert r.status_code == 200
    openai_fake.state.always(Fault("status", status=503))
    deepgram_fake.state.always(Fault("status", status=503))
    r = await gw.client.post(
        "/voice/synthesize", json={"text": SENTENCE, "voiceConfig": {"format": "wav"}}, headers=gw.auth()
    )
    assert r.status_code == 502
    assert [a["provider"] for a in r.json()["error"]["attempts"]] == ["openai", "deepgram"]


def test_round_trip_through_the_running_local_server_with_no_vendor_account(tmp_path: Path) -> None:
    env = {"ADMIN_TOKEN": ADMIN, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    server = LocalServer(tmp_path, env)
    try:
        server.wait_ready()
        auth = {"Authorization": f"Bearer {server.dev_key()}"}
        with httpx.Client(base_url=server.url, timeout=60) as client:
            r = client.post(
                "/voice/synthesize", json={"text": SENTENCE, "voiceConfig": {"format": "wav"}}, headers=auth
            )
            assert r.status_code == 200, r.text
            assert r.headers["x-provider"] == "local"
            t = client.post("/voice/transcribe", content=r.content, headers={**auth, "Content-Type": "audio/wav"})
            assert t.status_code == 200, t.text
            assert t.json()["provider"] == "local"
            assert len(recovered(t.json()["text"])) >= 3, t.json()["text"]
    finally:
        server.stop()


@pytest.fixture
async def gw_builtin_only() -> AsyncIterator[GatewayHarness]:
    # The engines share the CPU with the rest of the suite: the harness's 1 s attempt timeout is for fakes.
    async for harness in make_gateway({"ATTEMPT_TIMEOUT_SECONDS": "30"}, builtin=True):
        yield harness


@pytest.mark.parametrize(("fmt", "content_type", "magic"),
                         [("mp3", "audio/mpeg", (b"ID3", b"\xff")), ("opus", "audio/ogg", (b"OggS",)),
                          ("wav", "audio/wav", (b"RIFF",)), ("pcm", "audio/pcm", (b"",)),
                          ("flac", "audio/flac", (b"fLaC",))])  # fmt: skip
async def test_openai_speech_in_every_format_with_no_vendor_account(
    gw_builtin_only: GatewayHarness, fmt: str, content_type: str, magic: tuple[bytes, ...]
) -> None:
    gw = gw_builtin_only
    r = await gw.client.post(
        "/v1/audio/speech",
        headers=gw.auth(),
        json={"model": "tts-1", "voice": "onyx", "input": TWO_SENTENCES, "response_format": fmt},
    )
    assert r.status_code == 200, r.text
    assert r.headers["x-provider"] == "local" and r.headers["content-type"].startswith(content_type)
    assert r.content.startswith(magic) and len(r.content) > 2000
    # What came back is speech the built-in recognizer understands again (the codec kept it intelligible).
    audio, upload_type = (wav_from_pcm(r.content, 24000), "audio/wav") if fmt == "pcm" else (r.content, content_type)
    t = await gw.client.post("/voice/transcribe", content=audio, headers={**gw.auth(), "Content-Type": upload_type})
    assert t.status_code == 200, t.text
    # PocketSphinx is a small model and espeak-ng's voices add random noise: over 8 runs per format it recovered 6-10
    # of the 11 content words (wav 8, mp3 6-8, opus 8-10, flac 8). Noise or a broken codec gives none.
    heard = TWO_SENTENCE_WORDS & set(t.json()["text"].split())
    assert len(heard) >= 5, t.json()["text"]


@pytest.mark.parametrize("fmt", ["mp3", "opus", "wav", "pcm"])
async def test_voice_stream_in_every_format_with_no_vendor_account(gw_builtin_only: GatewayHarness, fmt: str) -> None:
    import io

    import soundfile

    gw = gw_builtin_only
    text = "Hello world, this is the first sentence. And here is a second one. A third ends it."
    body = {"text": text, "voiceConfig": {"format": fmt, "sampleRate": 24000}}
    async with gw.client.stream("POST", "/voice/stream", json=body, headers=gw.auth()) as r:
        assert r.status_code == 200, await r.aread()
        assert r.headers["x-provider"] == "local"
        chunks = [chunk async for chunk in r.aiter_bytes()]
    audio = b"".join(chunks)
    if fmt == "pcm":
        seconds = len(audio) / 2 / 24000
    else:
        # One playable file: libsndfile reads the joined stream back (for Ogg, its first chained stream)
        data, rate = soundfile.read(io.BytesIO(audio), dtype="int16")
        assert rate in (24000, 48000)
        seconds = len(data) / rate
    assert seconds > (1.5 if fmt == "opus" else 4.0)  # three sentences of speech (Ogg: at least the first link)


async def test_models_lists_the_openai_endpoint_names_and_what_serves_them(gw_builtin_only: GatewayHarness) -> None:
    gw = gw_builtin_only
    r = await gw.client.get("/v1/models", headers=gw.auth())
    assert r.status_code == 200, r.text
    models = {m["id"]: m for m in r.json()["data"]}
    for name in ("tts-1", "tts-1-hd", "gpt-4o-mini-tts", "whisper-1", "gpt-4o-transcribe", "espeak-ng"):
        assert models[name]["owned_by"] == "local", name
    assert models["whisper-1"]["served_by"] == ["local"]
    lookup = await gw.client.get("/v1/models/tts-1", headers=gw.auth())
    assert lookup.status_code == 200 and lookup.json()["owned_by"] == "local"

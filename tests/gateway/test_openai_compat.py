"""The OpenAI-compatible API driven by the official ``openai`` SDK, pointed at the gateway in-process, with the vendor
fakes on loopback behind it: speech, transcriptions, chat (plain and streamed), models, and OpenAI-shaped errors."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterator
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import openai
import pytest

from gateway.errors import InvalidRequest, UnsupportedMediaType
from gateway.multipart_form import parse_form
from tests.conftest import GatewayHarness, make_gateway, vendor_env
from tests.fakes import anthropic as anthropic_fake_app
from tests.fakes import openai as openai_fake_app
from tests.fakes.audio import sine_wav
from tests.fakes.harness import FakeServer, FakeState, Fault
from tests.test_local_server import LocalServer

TEXT = "Hello from the OpenAI-compatible gateway."
MARKUP = Decimal("1.2")


def micros(usd: Decimal) -> int:
    return int((usd * 1_000_000).quantize(Decimal(1), rounding=ROUND_HALF_UP))


@pytest.fixture(scope="module")
def anthropic_fake() -> Iterator[FakeServer]:
    state = FakeState()
    with FakeServer(anthropic_fake_app.create_app(state), state) as server:
        yield server


@pytest.fixture
async def gw(
    openai_fake: FakeServer, deepgram_fake: FakeServer, anthropic_fake: FakeServer
) -> AsyncIterator[GatewayHarness]:
    env = {**vendor_env(openai_fake, deepgram_fake), "ANTHROPIC_API_KEY": anthropic_fake_app.API_KEY,
           "ANTHROPIC_BASE_URL": anthropic_fake.url}  # fmt: skip
    async for harness in make_gateway(env):
        yield harness


@pytest.fixture(autouse=True)
def _reset_anthropic(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "anthropic_fake" in request.fixturenames:
        request.getfixturevalue("anthropic_fake").state.reset()


def sdk_for(gw: GatewayHarness, api_key: str | None = None) -> openai.AsyncOpenAI:
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=gw.app))
    # max_retries=0: the SDK would otherwise retry 429/5xx itself and hide what the gateway answered.
    return openai.AsyncOpenAI(
        base_url="http://gateway.test/v1", api_key=api_key or gw.key, http_client=http, max_retries=0
    )


@pytest.fixture
async def sdk(gw: GatewayHarness) -> AsyncIterator[openai.AsyncOpenAI]:
    client = sdk_for(gw)
    yield client
    await client.close()


async def usage_rows(gw: GatewayHarness) -> list[dict]:
    await gw.settle()
    return await gw.db.all("SELECT * FROM usage_records ORDER BY created_at")


# -- speech --------------------------------------------------------------------------------------------------------
async def test_speech_through_the_sdk(gw: GatewayHarness, sdk: openai.AsyncOpenAI, openai_fake: FakeServer) -> None:
    raw = await sdk.audio.speech.with_raw_response.create(model="tts-1", voice="alloy", input=TEXT)
    assert raw.status_code == 200
    assert raw.headers["content-type"] == "audio/mpeg"
    assert (raw.headers["x-provider"], raw.headers["x-attempts"]) == ("openai", "1")
    audio = raw.parse().content
    assert audio[:2] == b"\xff\xfb" and len(audio) > 1000  # MPEG frames
    sent = json.loads(openai_fake.state.requests[-1].body)
    assert (sent["model"], sent["voice"], sent["input"]) == ("tts-1", "alloy", TEXT)
    expected = Decimal(15) / 1_000_000 * len(TEXT) * MARKUP  # tts-1 list price × characters × markup
    assert Decimal(raw.headers["x-cost"]) == expected.quantize(Decimal("0.000001"))
    rows = await usage_rows(gw)
    assert [(r["provider"], r["resource"], r["characters"]) for r in rows] == [("openai", "tts", len(TEXT))]


@pytest.mark.parametrize("fmt, content_type, magic", [("wav", "audio/wav", b"RIFF"), ("opus", "audio/ogg", b"OggS"),
                                                      ("pcm", "audio/pcm", b"")])  # fmt: skip
async def test_speech_formats(sdk: openai.AsyncOpenAI, fmt: str, content_type: str, magic: bytes) -> None:
    raw = await sdk.audio.speech.with_raw_response.create(model="tts-1", voice="nova", input=TEXT, response_format=fmt)
    assert raw.headers["content-type"] == content_type
    audio = raw.parse().content
    assert audio.startswith(magic) and len(audio) > 100


async def test_speech_served_by_deepgram_when_openai_fails(
    gw: GatewayHarness, sdk: openai.AsyncOpenAI, openai_fake: FakeServer, deepgram_fake: FakeServer
) -> None:
    openai_fake.state.always(Fault("status", status=503))
    raw = await sdk.audio.speech.with_raw_response.create(model="tts-1", voice="onyx", input=TEXT)
    assert raw.status_code == 200
    assert (raw.headers["x-provider"], raw.headers["x-attempts"]) == ("deepgram", "2")
    assert raw.parse().content[:2] == b"\xff\xfb"
    query = parse_qs(deepgram_fake.state.requests[-1].query)
    # OpenAI's "onyx" becomes the gateway's "male" alias; tts-1 is not sent to Deepgram (its default model is used).
    assert query["model"] == ["aura-2-orion-en"]
    rows = await usage_rows(gw)
    assert [(r["provider"], r["characters"]) for r in rows] == [("deepgram", len(TEXT))]


async def test_unsupported_speech_format_is_a_bad_request(sdk: openai.AsyncOpenAI, openai_fake: FakeServer) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await sdk.audio.speech.create(model="tts-1", voice="alloy", input=TEXT, response_format="aac")
    assert caught.value.status_code == 400
    assert caught.value.param == "response_format" and "aac" in caught.value.message
    assert openai_fake.state.requests == []


# -- transcriptions ------------------------------------------------------------------------------------------------
async def test_transcription_json_any_vendor_may_serve(
    gw: GatewayHarness, sdk: openai.AsyncOpenAI, deepgram_fake: FakeServer
) -> None:
    wav = sine_wav(1.5)
    raw = await sdk.audio.transcriptions.with_raw_response.create(
        model="whisper-1", file=("hello.wav", wav, "audio/wav")
    )
    # Deepgram's nova-3 is the cheapest listed STT here, so the cost strategy picks it over OpenAI for "whisper-1".
    assert (raw.headers["x-provider"], raw.headers["x-attempts"]) == ("deepgram", "1")
    assert raw.parse().text == "Hello from the fake deepgram."
    heard = deepgram_fake.state.requests[-1]
    assert parse_qs(heard.query)["model"] == ["nova-3"] and heard.body == wav  # OpenAI's model name stays at home
    rows = await usage_rows(gw)
    assert [(r["provider"], r["resource"]) for r in rows] == [("deepgram", "stt")]
    assert rows[0]["audio_seconds"] == pytest.approx(1.5, abs=0.01)
    nova_3 = Decimal("0.0043") / 60  # list price per second
    assert rows[0]["final_cost_micros"] == micros(nova_3 * Decimal(str(rows[0]["audio_seconds"])) * MARKUP)


async def test_transcription_verbose_json_and_text_from_openai(
    gw: GatewayHarness, sdk: openai.AsyncOpenAI, openai_fake: FakeServer
) -> None:
    wav = sine_wav(2.0)
    verbose = await sdk.audio.transcriptions.create(
        model="whisper-1",
        file=("hello.wav", wav),
        response_format="verbose_json",
        timestamp_granularities=["word"],
        extra_body={"provider": "openai"},  # the gateway's pin, sent as one more form field
    )
    assert verbose.text == openai_fake_app.DEFAULT_TRANSCRIPT
    assert verbose.duration == pytest.approx(2.0, abs=0.01)
    assert verbose.language
    assert [w.word for w in verbose.words or []] == openai_fake_app.DEFAULT_TRANSCRIPT.split()
    assert all(0 <= w.start <= w.end <= 2.0 for w in verbose.words or [])
    upload = openai_fake.state.requests[-1]
    assert b'name="model"\r\n\r\nwhisper-1' in upload.body and wav in upload.body  # the audio arrived intact
    text = await sdk.audio.transcriptions.create(
        model="whisper-1", file=("hello.wav", wav), response_format="text", extra_body={"provider": "openai"}
    )
    assert text.strip() == openai_fake_app.DEFAULT_TRANSCRIPT
    rows = await usage_rows(gw)
    assert [(r["provider"], r["audio_seconds"]) for r in rows] == [("openai", 2.0), ("openai", 2.0)]


async def test_transcription_fails_over(
    sdk: openai.AsyncOpenAI, openai_fake: FakeServer, deepgram_fake: FakeServer
) -> None:
    deepgram_fake.state.always(Fault("status", status=500))
    raw = await sdk.audio.transcriptions.with_raw_response.create(model="whisper-1", file=("a.wav", sine_wav(1.0)))
    assert (raw.headers["x-provider"], raw.headers["x-attempts"]) == ("openai", "2")
    assert raw.parse().text == openai_fake_app.DEFAULT_TRANSCRIPT


async def test_bad_transcription_uploads(sdk: openai.AsyncOpenAI, openai_fake: FakeServer) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await sdk.audio.transcriptions.create(model="whisper-1", file=("notes.txt", b"these are not audio bytes"))
    assert "not audio" in caught.value.message
    with pytest.raises(openai.BadRequestError) as caught:
        await sdk.audio.transcriptions.create(model="whisper-1", file=("empty.wav", b""))
    assert caught.value.param == "file"
    with pytest.raises(openai.BadRequestError) as caught:
        await sdk.audio.transcriptions.create(model="whisper-1", file=("a.wav", sine_wav(0.5)), response_format="srt")
    assert caught.value.param == "response_format"
    assert openai_fake.state.requests == []


@pytest.fixture
async def small_limit_gw(openai_fake: FakeServer) -> AsyncIterator[GatewayHarness]:
    async for harness in make_gateway({**vendor_env(openai_fake), "MAX_AUDIO_BYTES": "50000"}):
        yield harness


async def test_transcription_over_the_body_limit_is_413(small_limit_gw: GatewayHarness) -> None:
    client = sdk_for(small_limit_gw)
    try:
        with pytest.raises(openai.APIStatusError) as caught:
            await client.audio.transcriptions.create(model="whisper-1", file=("big.wav", sine_wav(3.0)))  # ~96 KB
        assert caught.value.status_code == 413
        assert caught.value.body["type"] == "invalid_request_error"  # type: ignore[index]
        assert caught.value.body["code"] == "payload_too_large"  # type: ignore[index]
    finally:
        await client.close()


# -- chat ----------------------------------------------------------------------------------------------------------
MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say something nice"}]


async def test_chat_completion(gw: GatewayHarness, sdk: openai.AsyncOpenAI, openai_fake: FakeServer) -> None:
    completion = await sdk.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, max_tokens=50)  # type: ignore[arg-type]
    assert completion.object == "chat.completion" and completion.model == "gpt-4o-mini"
    assert completion.choices[0].message.content == "Echo: Say something nice"
    assert completion.choices[0].finish_reason == "stop"
    # The fake: one token per word, +3 per message, +3 priming.
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (2 + 3 + 3 + 3 + 3, 4)
    assert json.loads(openai_fake.state.requests[-1].body)["messages"] == MESSAGES
    rows = await usage_rows(gw)
    assert [(r["provider"], r["resource"], r["input_tokens"], r["output_tokens"]) for r in rows] == [
        ("openai", "llm", 14, 4)
    ]
    provider_cost = Decimal("0.15") / 1_000_000 * 14 + Decimal("0.60") / 1_000_000 * 4
    assert rows[0]["final_cost_micros"] == micros(provider_cost * MARKUP)


async def test_chat_stream_ends_with_a_usage_chunk_and_done(
    gw: GatewayHarness, sdk: openai.AsyncOpenAI, openai_fake: FakeServer
) -> None:
    openai_fake.state.options["reply"] = words = "a fine day for a stream"
    stream = await sdk.chat.completions.create(
        model="gpt-4o-mini",
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": True},  # type: ignore[arg-type]
    )
    chunks = [chunk async for chunk in stream]
    assert all(c.object == "chat.completion.chunk" and c.id == chunks[0].id for c in chunks)
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert content == words
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-2].choices[0].finish_reason == "stop"
    usage_chunk = chunks[-1]
    assert usage_chunk.choices == [] and usage_chunk.usage is not None
    assert (usage_chunk.usage.prompt_tokens, usage_chunk.usage.completion_tokens) == (14, 6)
    rows = await usage_rows(gw)
    assert [(r["input_tokens"], r["output_tokens"]) for r in rows] == [(14, 6)]


async def test_chat_stream_wire_format_without_the_sdk(gw: GatewayHarness) -> None:
    r = await gw.client.post(
        "/v1/chat/completions",
        json={"model": "gpt-4o-mini", "messages": MESSAGES, "stream": True},
        headers=gw.auth(),
    )
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    events = [line for line in r.text.split("\n\n") if line]
    assert all(e.startswith("data: ") for e in events)
    assert events[-1] == "data: [DONE]"
    assert json.loads(events[-2][6:])["usage"]["total_tokens"] == 18  # usage is sent even without include_usage


async def test_chat_stream_from_another_vendor(sdk: openai.AsyncOpenAI, anthropic_fake: FakeServer) -> None:
    anthropic_fake.state.options["reply"] = "Claude says hi"
    stream = await sdk.chat.completions.create(model="claude-haiku-4-5", messages=MESSAGES, stream=True)  # type: ignore[arg-type]
    chunks = [chunk async for chunk in stream]
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Claude says hi"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 3
    assert json.loads(anthropic_fake.state.requests[-1].body)["system"] == "Be brief."


async def test_chat_stream_error_mid_stream_reaches_the_sdk(sdk: openai.AsyncOpenAI, openai_fake: FakeServer) -> None:
    openai_fake.state.options.update(reply="one two three four", stream_error_after=2)
    stream = await sdk.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)  # type: ignore[arg-type]
    received = []
    with pytest.raises(openai.APIError) as caught:
        async for chunk in stream:
            received.extend(c.delta.content or "" for c in chunk.choices)
    assert "".join(received) == "one two"
    assert "mid-stream" in caught.value.message


async def test_chat_fails_over_before_the_first_chunk(
    sdk: openai.AsyncOpenAI, openai_fake: FakeServer, anthropic_fake: FakeServer
) -> None:
    openai_fake.state.always(Fault("status", status=503))
    anthropic_fake.state.options["reply"] = "served elsewhere"
    raw = await sdk.chat.completions.with_raw_response.create(model="auto", messages=MESSAGES)  # type: ignore[arg-type]
    assert (raw.headers["x-provider"], raw.headers["x-attempts"]) == ("anthropic", "2")
    assert raw.parse().choices[0].message.content == "served elsewhere"


# -- models --------------------------------------------------------------------------------------------------------
async def test_models_lists_what_the_workspace_can_use(sdk: openai.AsyncOpenAI) -> None:
    models = [m async for m in sdk.models.list()]
    owners = {m.id: m.owned_by for m in models}
    assert owners["gpt-4o-mini"] == "openai" and owners["tts-1"] == "openai" and owners["whisper-1"] == "openai"
    assert owners["nova-3"] == "deepgram" and owners["claude-haiku-4-5"] == "anthropic"
    assert "*" not in owners and len(owners) == len(models)
    assert "gemini-2.5-flash" not in owners  # Gemini is not configured for this workspace
    assert all(m.object == "model" and m.created > 1_700_000_000 for m in models)
    found = await sdk.models.retrieve("claude-haiku-4-5")
    assert found.owned_by == "anthropic"
    with pytest.raises(openai.NotFoundError):
        await sdk.models.retrieve("gpt-99")


# -- errors --------------------------------------------------------------------------------------------------------
async def test_bad_key_is_an_authentication_error(gw: GatewayHarness) -> None:
    client = sdk_for(gw, api_key="vgw_not_a_real_key")
    try:
        with pytest.raises(openai.AuthenticationError) as caught:
            await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)  # type: ignore[arg-type]
        assert caught.value.status_code == 401 and caught.value.code == "invalid_api_key"
        assert caught.value.type == "authentication_error"
    finally:
        await client.close()


async def test_bad_input_is_a_bad_request(sdk: openai.AsyncOpenAI, openai_fake: FakeServer) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await sdk.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, temperature=7)  # type: ignore[arg-type]
    assert caught.value.param == "temperature" and caught.value.type == "invalid_request_error"
    with pytest.raises(openai.BadRequestError) as caught:
        await sdk.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "tool", "content": "x", "tool_call_id": "1"}]
        )  # type: ignore[arg-type,list-item]
    assert caught.value.param == "messages.[0].role"
    with pytest.raises(openai.BadRequestError):
        await sdk.chat.completions.create(model="gpt-4o-mini", messages=[])
    assert openai_fake.state.requests == []


async def test_error_bodies_are_openai_shaped_only_under_v1(gw: GatewayHarness) -> None:
    r = await gw.client.post("/v1/chat/completions", json={"messages": "nope"}, headers=gw.auth())
    assert r.status_code == 400
    error = r.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["param"] == "messages"
    r = await gw.client.get("/v1/nothing/here", headers=gw.auth())
    assert r.status_code == 404 and r.json()["error"]["type"] == "invalid_request_error"
    r = await gw.client.post("/v1/chat/completions", content=b"{broken", headers=gw.auth())
    assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request_error"
    # Our own envelope everywhere else.
    r = await gw.client.post("/llm/generate", json={}, headers=gw.auth())
    assert r.json()["error"]["type"] == "invalid_request" and r.json()["error"]["request_id"]


async def test_all_vendors_failing_maps_to_an_openai_server_error(
    sdk: openai.AsyncOpenAI, openai_fake: FakeServer, anthropic_fake: FakeServer
) -> None:
    openai_fake.state.always(Fault("status", status=500))
    anthropic_fake.state.always(Fault("status", status=529))
    with pytest.raises(openai.InternalServerError) as caught:
        await sdk.chat.completions.create(model="auto", messages=MESSAGES)  # type: ignore[arg-type]
    assert caught.value.status_code == 502
    body = caught.value.body
    assert isinstance(body, dict) and body["type"] == "server_error" and body["code"] == "upstream_error"
    assert [a["provider"] for a in body["attempts"]] == ["openai", "anthropic"]


# -- the multipart parser ------------------------------------------------------------------------------------------
def encoded_form(**files: tuple[str, bytes]) -> tuple[bytes, str]:
    request = httpx.Request("POST", "http://x", data={"model": "whisper-1", "language": "en"}, files=files)
    return request.read(), request.headers["content-type"]


@pytest.mark.parametrize("payload", [b"", b"\r", b"\r\n", b"--", bytes(range(256)) * 40 + b"\r\n--x\r"])
def test_multipart_round_trips_binary_files(payload: bytes) -> None:
    body, content_type = encoded_form(file=('a "quoted" name.wav', payload))
    form = parse_form(body, content_type)
    assert form["file"][0].data == payload
    assert form["file"][0].filename == "a %22quoted%22 name.wav"  # httpx percent-encodes the quote
    assert (form["model"][0].text(), form["language"][0].text()) == ("whisper-1", "en")


def test_multipart_rejects_broken_forms() -> None:
    body, content_type = encoded_form(file=("a.wav", b"data"))
    with pytest.raises(InvalidRequest, match="truncated"):
        parse_form(body[:-8], content_type)  # the closing boundary is cut
    with pytest.raises(InvalidRequest, match="boundary"):
        parse_form(body, "multipart/form-data")
    with pytest.raises(UnsupportedMediaType):
        parse_form(body, "application/json")
    with pytest.raises(InvalidRequest, match="more than"):
        many = httpx.Request("POST", "http://x", data={f"f{i}": "v" for i in range(40)}, files={"file": ("a", b"x")})
        parse_form(many.read(), many.headers["content-type"])


# -- over real HTTP ------------------------------------------------------------------------------------------------
def test_sdk_streams_chat_incrementally_over_real_http(
    tmp_path: Path, openai_fake: FakeServer, deepgram_fake: FakeServer, anthropic_fake: FakeServer
) -> None:
    """The real local server on a socket: the SDK sees chunks as the vendor sends them (not one buffered body), and a
    vendor failing before its first chunk is replaced by the next one within the same streamed request."""
    env = {**vendor_env(openai_fake, deepgram_fake), "ANTHROPIC_API_KEY": anthropic_fake_app.API_KEY,
           "ANTHROPIC_BASE_URL": anthropic_fake.url, "ADMIN_TOKEN": "admin-for-compat", "ATTEMPT_TIMEOUT_SECONDS": "2",
           "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}  # fmt: skip
    server = LocalServer(tmp_path, env)
    try:
        server.wait_ready()
        client = openai.OpenAI(base_url=f"{server.url}/v1", api_key=server.dev_key(), max_retries=0, timeout=10)
        openai_fake.state.options.update(reply="one two three four five", chunk_delay=0.15)
        started = time.monotonic()
        arrivals: list[tuple[float, str]] = []
        stream = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)  # type: ignore[arg-type]
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                arrivals.append((time.monotonic() - started, chunk.choices[0].delta.content))
            elif chunk.usage is not None:
                assert chunk.usage.completion_tokens == 5
        assert "".join(text for _, text in arrivals) == "one two three four five"
        assert arrivals[-1][0] - arrivals[0][0] >= 0.4  # spread out as the vendor paced them

        openai_fake.state.options.clear()
        openai_fake.state.fail(Fault("status", status=503))
        with client.chat.completions.with_streaming_response.create(
            model="auto",
            messages=MESSAGES,
            stream=True,  # type: ignore[arg-type]
        ) as response:
            assert (response.headers["x-provider"], response.headers["x-attempts"]) == ("anthropic", "2")
            text = "".join(c.choices[0].delta.content or "" for c in response.parse() if c.choices)
        assert text == anthropic_fake_app.DEFAULT_REPLY
        client.close()
    finally:
        server.stop()

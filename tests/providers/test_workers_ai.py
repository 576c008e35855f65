"""Workers AI adapter: pure wire-format functions, the AI Gateway REST contract against the fake, and the AI binding."""

from __future__ import annotations

import asyncio
import json
import struct
from decimal import Decimal
from typing import Any

import httpx
import pytest

from gateway.errors import ErrorClass, ProviderError
from providers import get_provider
from providers.base import (
    Call,
    Capability,
    ChatMessage,
    CompletionRequest,
    Credentials,
    SynthesisRequest,
    SynthesisResult,
    TranscriptionRequest,
    Unit,
    Word,
)
from providers.workers_ai import WorkersAIProvider, api, binding, llm, stt, tts
from tests.fakes.audio import silent_mp3, sine_wav
from tests.fakes.harness import FakeServer, FakeState, Fault
from tests.fakes.workers_ai import API_KEY, DEFAULT_COMPLETION, create_app, measure_seconds, spoken_words

provider = WorkersAIProvider()
ACCOUNT, GATEWAY = "acct-123", "gw-test"
HELLO = CompletionRequest(messages=(ChatMessage("system", "Be brief."), ChatMessage("user", "Say hello")))
HELLO_TOKENS = (2 + 2 + 3 * 2, len(DEFAULT_COMPLETION.split()))  # the fake counts words + 3 per message


async def collect(aiter: Any) -> list[Any]:
    return [item async for item in aiter]


async def from_chunks(*chunks: bytes):
    for chunk in chunks:
        yield chunk


# -- configuration ---------------------------------------------------------------------------------------------
def test_registry_and_class_facts() -> None:
    assert isinstance(get_provider("workers_ai"), WorkersAIProvider)
    assert {c.value for c in provider.capabilities} == {"tts", "stt", "llm"}
    assert provider.tts_formats == {"mp3", "wav", "pcm", "opus"}


def test_credentials_from_env_needs_account_and_token() -> None:
    assert provider.credentials_from_env({"CLOUDFLARE_API_TOKEN": "t"}) is None
    assert provider.credentials_from_env({"CLOUDFLARE_ACCOUNT_ID": "a"}) is None
    creds = provider.credentials_from_env({"CLOUDFLARE_ACCOUNT_ID": "a", "CLOUDFLARE_API_TOKEN": "t"})
    assert creds is not None and creds.api_key == "t" and creds.base_url == "https://gateway.ai.cloudflare.com/v1"
    assert dict(creds.extra) == {"account_id": "a", "gateway_id": "default"}
    creds = provider.credentials_from_env(
        {
            "CLOUDFLARE_ACCOUNT_ID": "a",
            "CLOUDFLARE_API_TOKEN": "t",
            "CLOUDFLARE_GATEWAY_ID": "voice",
            "CF_AIG_TOKEN": "g",
            "WORKERS_AI_BASE_URL": "http://127.0.0.1:9/v1/",
        }
    )
    assert creds is not None and creds.base_url == "http://127.0.0.1:9/v1"
    assert dict(creds.extra) == {"account_id": "a", "gateway_id": "voice", "aig_token": "g"}


def test_url_and_headers_follow_the_gateway_config() -> None:
    creds = Credentials(api_key="t", base_url="https://gw.example/v1/", extra={"account_id": "a", "gateway_id": "g"})
    assert api.model_url(creds, tts.AURA_1) == "https://gw.example/v1/a/g/workers-ai/@cf/deepgram/aura-1"
    assert api.auth_headers(creds) == {"Authorization": "Bearer t"}
    authed = Credentials(api_key="t", base_url="x", extra={"account_id": "a", "aig_token": "s"})
    assert api.model_url(authed, "m").endswith("/a/default/workers-ai/m")
    assert api.auth_headers(authed)["cf-aig-authorization"] == "Bearer s"
    with pytest.raises(ProviderError) as caught:
        api.model_url(Credentials(api_key="t", base_url="x"), "m")
    assert caught.value.error_class is ErrorClass.AUTH


def test_available_via_binding() -> None:
    assert WorkersAIProvider.available_via_binding({"AI": object()})
    assert not WorkersAIProvider.available_via_binding({})


# -- wire formats ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("fmt", "rate", "expected"),
    [
        ("mp3", None, {"encoding": "mp3"}),
        ("wav", 16000, {"encoding": "linear16", "container": "wav", "sample_rate": 16000}),
        ("pcm", None, {"encoding": "linear16", "container": "none"}),
        ("opus", None, {"encoding": "opus", "container": "ogg"}),
    ],
)
def test_synthesis_inputs_per_format(fmt: str, rate: int | None, expected: dict[str, Any]) -> None:
    inputs = tts.synthesis_inputs(SynthesisRequest(text="Hi", format=fmt, sample_rate=rate), tts.AURA_1, "angus")
    assert inputs == {"text": "Hi", "speaker": "angus", **expected}


def test_speakers_follow_aliases_model_defaults_and_deepgram_names() -> None:
    model, inputs = provider._synthesis_inputs(SynthesisRequest(text="Hi", voice="Female"))
    assert (model, inputs["speaker"]) == (tts.AURA_1, "asteria")
    assert provider._synthesis_inputs(SynthesisRequest(text="Hi", voice="male"))[1]["speaker"] == "orion"
    assert provider._synthesis_inputs(SynthesisRequest(text="Hi"))[1]["speaker"] == "angus"
    model, inputs = provider._synthesis_inputs(SynthesisRequest(text="Hi", model="aura-2-en"))
    assert (model, inputs["speaker"]) == (tts.AURA_2_EN, "luna")
    deepgram_name = SynthesisRequest(text="Hi", voice="aura-2-thalia-en", model=tts.AURA_2_EN)
    assert provider._synthesis_inputs(deepgram_name)[1]["speaker"] == "thalia"
    with pytest.raises(ProviderError) as caught:
        provider._synthesis_inputs(SynthesisRequest(text="Hi", voice="thalia"))  # aura-2 only
    assert caught.value.error_class is ErrorClass.UNSUPPORTED


def test_models_resolve_or_are_refused() -> None:
    assert provider.resolve_model(Capability.TTS, "tts-1") == tts.AURA_1  # another vendor's name: our default
    assert provider.resolve_model(Capability.STT, "nova-3") == stt.NOVA_3
    with pytest.raises(ProviderError) as caught:
        provider.resolve_model(Capability.LLM, "@cf/meta/llama-9-huge")  # ours in form, but unpriced here
    assert caught.value.error_class is ErrorClass.UNSUPPORTED


def test_supports_synthesis_checks_rates_language_and_length() -> None:
    assert provider.supports_synthesis(SynthesisRequest(text="Hi", format="wav", sample_rate=16000))
    assert not provider.supports_synthesis(SynthesisRequest(text="Hi", format="wav", sample_rate=22050))
    assert not provider.supports_synthesis(SynthesisRequest(text="Hi", format="mp3", sample_rate=16000))
    assert not provider.supports_synthesis(SynthesisRequest(text="Hola", language="es-ES"))
    assert not provider.supports_synthesis(SynthesisRequest(text="x" * 2001))


def test_whisper_bills_the_measured_audio_not_the_last_word() -> None:
    result = {"text": " one two ", "word_count": 2, "words": [{"word": "one", "start": 0, "end": 0.4},
                                                              {"word": "two", "start": 0.5, "end": 0.9}]}  # fmt: skip
    parsed = stt.parse_whisper(result, TranscriptionRequest(audio=b"x", content_type="audio/wav", duration=2.5))
    assert (parsed.text, parsed.duration, parsed.words[1]) == ("one two", 2.5, Word("two", 0.5, 0.9))
    unmeasured = stt.parse_whisper(result, TranscriptionRequest(audio=b"x", content_type="audio/ogg"))
    assert unmeasured.duration == 0.9  # lower bound only when the gateway could not measure
    with pytest.raises(ProviderError) as caught:
        stt.parse_whisper({"words": []}, TranscriptionRequest(audio=b"x", content_type="audio/wav"))
    assert caught.value.error_class is ErrorClass.MALFORMED


def test_nova_prefers_reported_duration_and_punctuated_words() -> None:
    word = {"word": "hi", "punctuated_word": "Hi.", "start": 0.1, "end": 0.3, "confidence": 0.9, "speaker": 1}
    body = {"metadata": {"duration": 3.2},
            "results": {"channels": [{"alternatives": [{"transcript": "Hi.", "confidence": 0.9, "words": [word]}]}]}}  # fmt: skip
    request = TranscriptionRequest(audio=b"x", content_type="audio/wav", duration=9.0, language="en")
    parsed = stt.parse_nova(body, request)
    assert (parsed.text, parsed.duration, parsed.confidence, parsed.language) == ("Hi.", 3.2, 0.9, "en")
    assert parsed.words == [Word("Hi.", 0.1, 0.3, 0.9, 1)]
    del body["metadata"]
    assert stt.parse_nova(body, request).duration == 9.0
    assert stt.nova_query(TranscriptionRequest(audio=b"", content_type="audio/wav", diarize=True, language="de")) == {
        "punctuate": "true", "smart_format": "true", "diarize": "true", "language": "de"}  # fmt: skip


def test_completion_inputs_and_usage() -> None:
    request = CompletionRequest(messages=(ChatMessage("user", "hi"),), max_tokens=5, temperature=0.2)
    assert llm.completion_inputs(request, stream=True) == {
        "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5, "temperature": 0.2, "stream": True}  # fmt: skip
    parsed = llm.parse_completion({"response": "yo", "usage": {"prompt_tokens": 7, "completion_tokens": 2}}, "m")
    assert (parsed.text, parsed.input_tokens, parsed.output_tokens) == ("yo", 7, 2)
    unreported = llm.parse_completion({"response": "yo"}, "m")
    assert (unreported.input_tokens, unreported.output_tokens) == (0, 0)


async def test_sse_parser_handles_split_events_crlf_and_final_usage() -> None:
    # "\r\n" and the two UTF-8 bytes of "é" are each split between chunks, as TCP or a ReadableStream may do.
    chunks = from_chunks(
        b'data: {"response":"Hel","p":"x"}\r',
        b'\n\r\ndata: {"respon',
        b'se":"lo caf\xc3',
        b'\xa9"}\n\n: keep-alive\n\ndata: {"response":"","usage":{"prompt_tokens":4,"completion_tokens":2}}\n\n',
        b"data: [DONE]\n\n",
    )
    parsed = await collect(llm.parse_stream(chunks, "m"))
    assert [c.text for c in parsed] == ["Hel", "lo caf\u00e9", ""]
    assert (parsed[-1].input_tokens, parsed[-1].output_tokens, parsed[-1].finish_reason) == (4, 2, "stop")


@pytest.mark.parametrize(
    ("chunks", "error_class"),
    [
        ([b'data: {"response":"a"}\n\n'], ErrorClass.CONNECTION),  # no [DONE]
        ([b"data: {nope\n\n"], ErrorClass.MALFORMED),
        ([b'data: {"errors":[{"code":3040,"message":"busy"}]}\n\n'], ErrorClass.SERVER),
    ],
)
async def test_sse_parser_failures(chunks: list[bytes], error_class: ErrorClass) -> None:
    with pytest.raises(ProviderError) as caught:
        await collect(llm.parse_stream(from_chunks(*chunks), "m"))
    assert caught.value.error_class is error_class


@pytest.mark.parametrize(
    ("status", "body", "message", "error_class"),
    [
        (429, {"success": False, "errors": [{"code": 3036, "message": "daily free allocation"}]}, "3036: daily free allocation", ErrorClass.QUOTA),
        (400, {"success": False, "errors": [{"code": 5007, "message": "No such model"}]}, "5007: No such model", ErrorClass.UNSUPPORTED),
        (429, {"success": False, "errors": [{"code": 3040, "message": "capacity"}]}, "3040: capacity", None),
        (502, None, "<html>bad gateway</html>", None),
    ],
)  # fmt: skip
def test_describe_error_reads_the_envelope(
    status: int, body: Any, message: str, error_class: ErrorClass | None
) -> None:
    assert api.describe_error(status, body, "<html>bad gateway</html>") == (message, error_class)


def test_envelope_with_success_false_on_2xx_is_an_error() -> None:
    with pytest.raises(ProviderError) as caught:
        api.unwrap_result({"success": False, "errors": [{"code": 3036, "message": "limit"}]})
    assert caught.value.error_class is ErrorClass.QUOTA
    with pytest.raises(ProviderError) as caught:
        api.unwrap_result({"success": True, "result": None})
    assert caught.value.error_class is ErrorClass.MALFORMED


def test_prices_are_the_dated_list_prices() -> None:
    assert provider.synthesis_cost(_synth(tts.AURA_1, 1000)) == Decimal("0.015")
    assert provider.synthesis_cost(_synth(tts.AURA_2_EN, 1000)) == Decimal("0.030")
    assert provider.completion_cost(llm.LLAMA_8B, 1_000_000, 1_000_000) == Decimal("0.282") + Decimal("0.827")
    assert provider.completion_cost(llm.LLAMA_8B_FAST, 1_000_000, 1_000_000) == Decimal("0.045") + Decimal("0.384")
    per_minute = {stt.WHISPER: Decimal("0.0005"), stt.NOVA_3: Decimal("0.0052")}
    for model, price in per_minute.items():
        assert provider.prices.cost(model, {Unit.AUDIO_SECOND: 60}).quantize(Decimal("1e-12")) == price


def _synth(model: str, characters: int) -> SynthesisResult:
    return SynthesisResult(audio=b"", content_type="audio/mpeg", model=model, characters=characters)


# -- contract against the fake AI Gateway ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def server():
    state = FakeState()
    with FakeServer(create_app(state), state) as running:
        yield running


@pytest.fixture(autouse=True)
def fresh_state(server: FakeServer) -> None:
    server.state.reset()


def credentials(server: FakeServer, key: str = API_KEY, **extra: str) -> Credentials:
    return Credentials(api_key=key, base_url=server.url, extra={"account_id": ACCOUNT, "gateway_id": GATEWAY, **extra})


@pytest.fixture
async def call(server: FakeServer):
    async with httpx.AsyncClient() as http:
        yield Call(http=http, credentials=credentials(server), timeout=2)


def wav_rate(data: bytes) -> int:
    return struct.unpack("<I", data[24:28])[0]


async def test_synthesize_mp3_through_the_gateway(call: Call, server: FakeServer) -> None:
    result = await provider.synthesize(call, SynthesisRequest(text="Hello there", voice="female"))
    assert result.audio[:2] == b"\xff\xfb" and measure_seconds(result.audio)
    assert (result.content_type, result.model, result.characters) == ("audio/mpeg", tts.AURA_1, len("Hello there"))
    sent = server.state.requests[-1]
    assert sent.path == f"/{ACCOUNT}/{GATEWAY}/workers-ai/@cf/deepgram/aura-1"
    assert sent.headers["authorization"] == f"Bearer {API_KEY}" and "cf-aig-authorization" not in sent.headers
    assert json.loads(sent.body) == {"text": "Hello there", "speaker": "asteria", "encoding": "mp3"}
    assert provider.synthesis_cost(result) == Decimal("0.015") / 1000 * len("Hello there")


async def test_synthesize_wav_and_pcm_on_aura_2(call: Call) -> None:
    wav = await provider.synthesize(
        call, SynthesisRequest(text="Hi", format="wav", sample_rate=16000, model="aura-2-en")
    )
    assert wav.audio[:4] == b"RIFF" and wav_rate(wav.audio) == 16000 and wav.content_type == "audio/wav"
    assert provider.synthesis_cost(wav) == Decimal("0.030") / 1000 * 2
    pcm = await provider.synthesize(call, SynthesisRequest(text="Hi", format="pcm", model=tts.AURA_2_EN))
    assert pcm.audio[:4] != b"RIFF" and len(pcm.audio) % 2 == 0 and pcm.content_type == "audio/pcm"


async def test_stream_synthesis_yields_the_chunks_as_sent(call: Call) -> None:
    chunks = await collect(provider.stream_synthesis(call, SynthesisRequest(text="Hello there", format="opus")))
    assert len(chunks) > 1 and b"".join(chunks).startswith(b"OggS")


async def test_transcribe_whisper_bills_the_gateway_measured_duration(call: Call, server: FakeServer) -> None:
    audio = sine_wav(1.0)
    result = await provider.transcribe(call, TranscriptionRequest(audio=audio, content_type="audio/wav", duration=1.0))
    assert result.text == "hello from the fake workers ai" and result.model == stt.WHISPER
    assert [w.word for w in result.words] == result.text.split()
    assert result.words[-1].end == pytest.approx(0.9) and result.duration == 1.0
    sent = server.state.requests[-1]
    assert sent.path.endswith("/workers-ai/@cf/openai/whisper") and sent.body == audio
    assert sent.headers["content-type"] == "audio/wav"
    assert provider.transcription_cost(result) == Decimal("0.0005") / 60


async def test_transcribe_nova_3_reports_vendor_duration_and_sends_options(call: Call, server: FakeServer) -> None:
    server.state.options["duration"] = 4.0  # the vendor's report wins over the gateway's measurement
    request = TranscriptionRequest(
        audio=silent_mp3(1.0), content_type="audio/mpeg", model="nova-3", diarize=True, language="en", duration=1.0
    )
    result = await provider.transcribe(call, request)
    assert (result.model, result.duration, result.confidence) == (stt.NOVA_3, 4.0, 0.97)
    assert result.text.startswith("Hello") and result.words[0].speaker == 0
    sent = server.state.requests[-1]
    assert sent.path.endswith("/workers-ai/@cf/deepgram/nova-3") and sent.headers["content-type"] == "audio/mpeg"
    assert dict(httpx.QueryParams(sent.query)) == {
        "punctuate": "true", "smart_format": "true", "diarize": "true", "language": "en"}  # fmt: skip
    assert provider.transcription_cost(result) == Decimal("0.0052") / 60 * 4


async def test_complete_records_reported_usage(call: Call, server: FakeServer) -> None:
    result = await provider.complete(call, HELLO)
    assert result.text == DEFAULT_COMPLETION and result.model == llm.LLAMA_8B
    assert (result.input_tokens, result.output_tokens) == HELLO_TOKENS
    assert json.loads(server.state.requests[-1].body)["messages"][1] == {"role": "user", "content": "Say hello"}
    cost = provider.completion_cost(result.model, result.input_tokens, result.output_tokens)
    assert cost == Decimal("0.282") / 10**6 * HELLO_TOKENS[0] + Decimal("0.827") / 10**6 * HELLO_TOKENS[1]
    server.state.options["omit_usage"] = True
    unreported = await provider.complete(call, HELLO)
    assert (unreported.input_tokens, unreported.output_tokens) == (0, 0)


async def test_stream_completion_ends_with_usage(call: Call, server: FakeServer) -> None:
    chunks = await collect(provider.stream_completion(call, HELLO))
    assert "".join(c.text for c in chunks) == DEFAULT_COMPLETION
    assert len(chunks) > 2 and (chunks[-1].input_tokens, chunks[-1].output_tokens) == HELLO_TOKENS
    assert json.loads(server.state.requests[-1].body)["stream"] is True
    server.state.options["omit_usage"] = True
    last = (await collect(provider.stream_completion(call, HELLO)))[-1]
    assert (last.input_tokens, last.output_tokens, last.finish_reason) == (None, None, "stop")


async def test_probe_is_a_one_token_ping_on_the_cheapest_model(call: Call, server: FakeServer) -> None:
    await provider.probe(call)
    sent = server.state.requests[-1]
    assert sent.path.endswith("/workers-ai/@cf/meta/llama-3.1-8b-instruct-fp8-fast")
    assert json.loads(sent.body) == {"messages": [{"role": "user", "content": "ping"}], "max_tokens": 1}


async def test_bad_token_is_auth_and_never_echoed(call: Call, server: FakeServer) -> None:
    call.credentials = credentials(server, key="wrong-secret-token")
    with pytest.raises(ProviderError) as caught:
        await provider.probe(call)
    assert (caught.value.error_class, caught.value.status) == (ErrorClass.AUTH, 401)
    assert "wrong-secret-token" not in caught.value.message and caught.value.message.startswith("10000")


async def test_authenticated_gateway_needs_cf_aig_authorization(call: Call, server: FakeServer) -> None:
    server.state.options["aig_token"] = "gateway-secret"
    with pytest.raises(ProviderError) as caught:
        await provider.complete(call, HELLO)
    assert caught.value.error_class is ErrorClass.AUTH and "gateway-secret" not in caught.value.message
    call.credentials = credentials(server, aig_token="gateway-secret")
    assert (await provider.complete(call, HELLO)).text
    assert server.state.requests[-1].headers["cf-aig-authorization"] == "Bearer gateway-secret"


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (400, ErrorClass.INVALID_INPUT),
        (401, ErrorClass.AUTH),
        (403, ErrorClass.AUTH),
        (404, ErrorClass.UNSUPPORTED),
        (408, ErrorClass.TIMEOUT),
        (413, ErrorClass.INVALID_INPUT),
        (429, ErrorClass.RATE_LIMITED),
        (500, ErrorClass.SERVER),
        (502, ErrorClass.SERVER),
        (503, ErrorClass.SERVER),
    ],
)
async def test_error_statuses_map_to_classes(
    call: Call, server: FakeServer, status: int, error_class: ErrorClass
) -> None:
    server.state.fail(Fault("status", status=status), Fault("status", status=status))
    with pytest.raises(ProviderError) as json_call:
        await provider.complete(call, HELLO)
    with pytest.raises(ProviderError) as audio_call:
        await provider.synthesize(call, SynthesisRequest(text="Hi"))
    for caught in (json_call, audio_call):
        assert (caught.value.error_class, caught.value.status, caught.value.retry_after) == (error_class, status, None)
        assert caught.value.message.split(":")[0].isdigit()  # the envelope's code was read


async def test_rate_limit_retry_after_and_quota(call: Call, server: FakeServer) -> None:
    server.state.fail(Fault("status", status=429, retry_after="2"))
    with pytest.raises(ProviderError) as caught:
        await provider.transcribe(call, TranscriptionRequest(audio=sine_wav(0.2), content_type="audio/wav"))
    assert (caught.value.error_class, caught.value.retry_after) == (ErrorClass.RATE_LIMITED, 2.0)
    limited = {"success": False, "result": None, "messages": [],
               "errors": [{"code": 3036, "message": "You have used up your daily free allocation of 10,000 neurons."}]}  # fmt: skip
    server.state.fail(Fault("status", status=429, body=limited))
    with pytest.raises(ProviderError) as caught:
        await provider.complete(call, HELLO)
    assert caught.value.error_class is ErrorClass.QUOTA and "daily free allocation" in caught.value.message


async def test_malformed_bodies(call: Call, server: FakeServer) -> None:
    server.state.fail(Fault("malformed"), Fault("malformed"), Fault("malformed"), Fault("malformed"))
    attempts = [
        provider.complete(call, HELLO),
        provider.synthesize(call, SynthesisRequest(text="Hi")),
        provider.transcribe(call, TranscriptionRequest(audio=sine_wav(0.2), content_type="audio/wav")),
        collect(provider.stream_completion(call, HELLO)),
    ]
    for attempt in attempts:
        with pytest.raises(ProviderError) as caught:
            await attempt
        assert caught.value.error_class is ErrorClass.MALFORMED


async def test_cut_bodies_are_connection_errors(call: Call, server: FakeServer) -> None:
    server.state.fail(Fault("cut", after_chunks=1), Fault("cut", after_chunks=2), Fault("cut", after_chunks=1))
    received: list[bytes] = []
    with pytest.raises(ProviderError) as audio:
        async for chunk in provider.stream_synthesis(call, SynthesisRequest(text="Hello there", format="wav")):
            received.append(chunk)
    with pytest.raises(ProviderError) as sse:
        await collect(provider.stream_completion(call, HELLO))
    with pytest.raises(ProviderError) as whole:
        await provider.complete(call, HELLO)
    assert audio.value.error_class is sse.value.error_class is whole.value.error_class is ErrorClass.CONNECTION
    assert received and received[0].startswith(b"RIFF")


async def test_hang_times_out(call: Call, server: FakeServer) -> None:
    server.state.fail(Fault("hang"))
    call.timeout = 0.3
    with pytest.raises(ProviderError) as caught:
        await provider.transcribe(call, TranscriptionRequest(audio=sine_wav(0.2), content_type="audio/wav"))
    assert caught.value.error_class is ErrorClass.TIMEOUT


async def test_slow_stream_still_arrives_whole(call: Call, server: FakeServer) -> None:
    server.state.fail(Fault("slow", delay=0.05))
    chunks = await collect(provider.stream_completion(call, HELLO))
    assert "".join(c.text for c in chunks) == DEFAULT_COMPLETION


# -- the AI binding ---------------------------------------------------------------------------------------------
class JsChunk:
    """Stands in for a Pyodide proxy of a JS Uint8Array: bytes come out through ``to_bytes()``."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def to_bytes(self) -> bytes:
        return self._data


class ReadableStream:
    """Stands in for a JS ReadableStream proxy: async-iterable over Uint8Array chunks; may error midway."""

    def __init__(self, data: bytes, parts: int = 3, fail_after: int | None = None) -> None:
        size = max(1, -(-len(data) // parts))
        self._chunks = [data[i : i + size] for i in range(0, len(data), size)]
        self._fail_after = fail_after

    async def __aiter__(self):
        for index, chunk in enumerate(self._chunks):
            if self._fail_after is not None and index >= self._fail_after:
                raise RuntimeError("Error: Network connection lost.")
            yield JsChunk(chunk)


class StandInAI:
    """A Python stand-in for ``env.AI``: ``await run(model, inputs, options=None)`` answers as the real binding
    documents — a result object (no envelope) for JSON models, a ReadableStream for Aura audio and streamed LLMs."""

    def __init__(self, *, raises: Exception | None = None, hang: bool = False, fail_stream_after: int | None = None):
        self.calls: list[tuple[str, dict[str, Any], dict[str, Any] | None]] = []
        self.raises, self.hang, self.fail_stream_after = raises, hang, fail_stream_after

    async def run(self, model: str, inputs: dict[str, Any], options: dict[str, Any] | None = None) -> Any:
        self.calls.append((model, inputs, options))
        if self.hang:
            await asyncio.sleep(3600)
        if self.raises is not None:
            raise self.raises
        if model.startswith("@cf/deepgram/aura"):
            return ReadableStream(silent_mp3(0.1 * len(inputs["text"])), fail_after=self.fail_stream_after)
        if model == stt.WHISPER:
            seconds = measure_seconds(bytes(inputs["audio"])) or 0.0
            words = spoken_words("hello binding", seconds)
            return {"text": "hello binding", "word_count": len(words), "words": words}
        if model == stt.NOVA_3:
            seconds = measure_seconds(inputs["audio"]["body"]) or 0.0
            alternative = {"transcript": "hello nova", "confidence": 0.9, "words": spoken_words("hello nova", seconds)}
            return {"metadata": {"duration": seconds}, "results": {"channels": [{"alternatives": [alternative]}]}}
        if inputs.get("stream"):
            sse = b'data: {"response":"hi"}\n\ndata: {"response":" there"}\n\n'
            sse += b'data: {"response":"","usage":{"prompt_tokens":5,"completion_tokens":2}}\n\ndata: [DONE]\n\n'
            return ReadableStream(sse, parts=4)
        return {"response": "hi there", "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}}


def refuse_http(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"the binding path must not use HTTP (tried {request.url})")


@pytest.fixture
async def binding_http():
    async with httpx.AsyncClient(transport=httpx.MockTransport(refuse_http)) as http:
        yield http


def binding_call(http: httpx.AsyncClient, ai: StandInAI, timeout: float = 2, **extra: str) -> Call:
    return Call(http=http, credentials=Credentials(None, "", extra=extra), timeout=timeout, bindings={"AI": ai})


async def test_binding_synthesis_reads_the_readable_stream(binding_http: httpx.AsyncClient) -> None:
    ai = StandInAI()
    result = await provider.synthesize(binding_call(binding_http, ai), SynthesisRequest(text="Hello", voice="male"))
    assert result.audio[:2] == b"\xff\xfb" and result.characters == 5 and result.model == tts.AURA_1
    assert ai.calls == [(tts.AURA_1, {"text": "Hello", "speaker": "orion", "encoding": "mp3"}, None)]
    chunks = await collect(provider.stream_synthesis(binding_call(binding_http, ai), SynthesisRequest(text="Hello")))
    assert len(chunks) == 3 and b"".join(chunks) == result.audio


async def test_binding_routes_through_the_configured_gateway(binding_http: httpx.AsyncClient) -> None:
    ai = StandInAI()
    await provider.complete(binding_call(binding_http, ai, gateway_id="voice"), HELLO)
    assert ai.calls[0][2] == {"gateway": {"id": "voice"}}


async def test_binding_transcription_whisper_and_nova(binding_http: httpx.AsyncClient) -> None:
    ai = StandInAI()
    audio = sine_wav(1.0)
    whisper = await provider.transcribe(
        binding_call(binding_http, ai), TranscriptionRequest(audio=audio, content_type="audio/wav", duration=1.0)
    )
    assert (whisper.text, whisper.duration) == ("hello binding", 1.0)
    assert ai.calls[-1][1] == {"audio": list(audio)}  # the documented byte-array input
    nova = await provider.transcribe(
        binding_call(binding_http, ai),
        TranscriptionRequest(audio=audio, content_type="audio/wav", model=stt.NOVA_3, language="en"),
    )
    assert (nova.text, nova.duration) == ("hello nova", 1.0)
    assert ai.calls[-1][1] == {"audio": {"body": audio, "contentType": "audio/wav"},
                               "punctuate": True, "smart_format": True, "language": "en"}  # fmt: skip


async def test_binding_completion_and_stream(binding_http: httpx.AsyncClient) -> None:
    ai = StandInAI()
    result = await provider.complete(binding_call(binding_http, ai), HELLO)
    assert (result.text, result.input_tokens, result.output_tokens) == ("hi there", 5, 2)
    chunks = await collect(provider.stream_completion(binding_call(binding_http, ai), HELLO))
    assert "".join(c.text for c in chunks) == "hi there"
    assert (chunks[-1].input_tokens, chunks[-1].output_tokens) == (5, 2)
    await provider.probe(binding_call(binding_http, ai))
    assert ai.calls[-1][0] == llm.LLAMA_8B_FAST


@pytest.mark.parametrize(
    ("message", "error_class"),
    [
        ("3036: You have used up your daily free allocation of 10,000 neurons.", ErrorClass.QUOTA),
        ("AiError: 429 Too Many Requests", ErrorClass.RATE_LIMITED),
        ("Rate limit exceeded", ErrorClass.RATE_LIMITED),
        ("5006: Error: required properties at '/audio' are 'body,contentType'", ErrorClass.INVALID_INPUT),
        ("AiError: 400 Bad Request", ErrorClass.INVALID_INPUT),
        ("5007: No such model @cf/x or task", ErrorClass.UNSUPPORTED),
        ("InferenceUpstreamError: internal error", ErrorClass.SERVER),
    ],
)
async def test_binding_exceptions_become_provider_errors(
    binding_http: httpx.AsyncClient, message: str, error_class: ErrorClass
) -> None:
    with pytest.raises(ProviderError) as caught:
        await provider.complete(binding_call(binding_http, StandInAI(raises=RuntimeError(message))), HELLO)
    assert caught.value.error_class is error_class and caught.value.provider == "workers_ai"


async def test_binding_hang_and_broken_stream(binding_http: httpx.AsyncClient) -> None:
    with pytest.raises(ProviderError) as caught:
        await provider.complete(binding_call(binding_http, StandInAI(hang=True), timeout=0.2), HELLO)
    assert caught.value.error_class is ErrorClass.TIMEOUT
    with pytest.raises(ProviderError) as caught:
        await provider.synthesize(
            binding_call(binding_http, StandInAI(fail_stream_after=1)), SynthesisRequest(text="Hi")
        )
    assert caught.value.error_class is ErrorClass.CONNECTION


async def test_binding_value_conversion() -> None:
    class JsResponse:  # returnRawResponse: a Response whose arrayBuffer() resolves to an ArrayBuffer
        body = None

        async def arrayBuffer(self) -> JsChunk:
            return JsChunk(b"abc")

    assert await collect(binding.iter_binding_bytes(b"raw")) == [b"raw"]
    assert await collect(binding.iter_binding_bytes(JsChunk(b"u8"))) == [b"u8"]
    assert await collect(binding.iter_binding_bytes(JsResponse())) == [b"abc"]
    with pytest.raises(ProviderError) as caught:
        await collect(binding.iter_binding_bytes({"response": "not audio"}))
    assert caught.value.error_class is ErrorClass.MALFORMED
    with pytest.raises(ProviderError):
        binding.as_result(b"not an object")

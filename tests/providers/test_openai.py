"""OpenAI adapter: pure wire-format functions, the contract against the fake OpenAI on loopback, and the official
``openai`` SDK pointed straight at the fake (proof the fake speaks the real format)."""

from __future__ import annotations

import base64
import json
import math
from collections.abc import AsyncIterator
from decimal import Decimal

import httpx
import openai
import pytest

from gateway.errors import ErrorClass, ProviderError
from providers.base import (
    Call,
    ChatMessage,
    CompletionRequest,
    Credentials,
    SynthesisRequest,
    TranscriptionRequest,
    Unit,
)
from providers.openai import OpenAIProvider
from providers.openai.api import describe_error, describe_for
from providers.openai.chat import chat_payload, parse_completion, parse_stream_event
from providers.openai.speech import check_audio, parse_speech_event, speech_payload
from providers.openai.transcription import parse_transcription, transcription_form
from tests.fakes.audio import silent_mp3, sine_wav
from tests.fakes.harness import FakeServer, Fault
from tests.fakes.openai import API_KEY, DEFAULT_TRANSCRIPT, INSUFFICIENT_QUOTA, create_app
from tests.providers.loopback import loopback_fixtures
from tests.providers.stream_failure import stream_failure

provider = OpenAIProvider()
PER_M = Decimal(1_000_000)


def messages(*texts: str) -> tuple[ChatMessage, ...]:
    return tuple(ChatMessage("user", t) for t in texts)


def error_of(excinfo: pytest.ExceptionInfo[ProviderError]) -> ProviderError:
    return excinfo.value


# -- pure wire format: speech -------------------------------------------------------------------------------------
def test_voice_aliases_and_default() -> None:
    assert [provider.resolve_voice(v) for v in ("female", "Male", "neutral", None, "coral")] == [
        "nova",
        "onyx",
        "alloy",
        "alloy",
        "coral",
    ]


def test_speech_payload_maps_format_speed_and_model() -> None:
    payload = speech_payload(SynthesisRequest(text="hi", format="wav", speed=1.5), model="tts-1", voice="nova")
    assert payload == {"model": "tts-1", "input": "hi", "voice": "nova", "response_format": "wav", "speed": 1.5}


@pytest.mark.parametrize(("speed", "sent"), [(10.0, 4.0), (0.1, 0.25), (0.25, 0.25)])
def test_speech_speed_is_clamped_to_openai_range(speed: float, sent: float) -> None:
    assert speech_payload(SynthesisRequest(text="hi", speed=speed), model="tts-1", voice="alloy")["speed"] == sent


def test_token_billed_tts_asks_for_sse_and_custom_voices_go_by_id() -> None:
    payload = speech_payload(SynthesisRequest(text="hi"), model="gpt-4o-mini-tts", voice="voice_123")
    assert payload["stream_format"] == "sse"
    assert payload["voice"] == {"id": "voice_123"}
    assert "stream_format" not in speech_payload(SynthesisRequest(text="hi"), model="tts-1-hd", voice="alloy")


@pytest.mark.parametrize(
    ("request_", "error_class"),
    [
        (SynthesisRequest(text="x" * 4097), ErrorClass.UNSUPPORTED),
        (SynthesisRequest(text="hi", format="pcm", sample_rate=16000), ErrorClass.UNSUPPORTED),
        (SynthesisRequest(text="hi", format="flac"), ErrorClass.UNSUPPORTED),
        (SynthesisRequest(text=""), ErrorClass.INVALID_INPUT),
        (SynthesisRequest(text="hi", speed=float("nan")), ErrorClass.INVALID_INPUT),
    ],
)
def test_speech_payload_refuses_what_openai_cannot_do(request_: SynthesisRequest, error_class: ErrorClass) -> None:
    with pytest.raises(ProviderError) as caught:
        speech_payload(request_, model="tts-1", voice="alloy")
    assert caught.value.error_class is error_class


def test_router_facts_match_openai_limits() -> None:
    assert provider.supports_synthesis(SynthesisRequest(text="hi", format="pcm", sample_rate=24000))
    assert not provider.supports_synthesis(SynthesisRequest(text="hi", format="pcm", sample_rate=16000))
    assert provider.supports_synthesis(SynthesisRequest(text="hi", format="mp3", sample_rate=44100))
    assert not provider.supports_synthesis(SynthesisRequest(text="x" * 4097))


@pytest.mark.parametrize(
    ("fmt", "first", "content_type"),
    [("mp3", b"<html>", "text/html"), ("wav", b"ID3\x04", "audio/wav"), ("mp3", b'{"a":1}', "application/json")],
)
def test_check_audio_rejects_bodies_that_are_not_the_audio_asked_for(fmt: str, first: bytes, content_type: str) -> None:
    with pytest.raises(ProviderError) as caught:
        check_audio(fmt, first, content_type)
    assert caught.value.error_class is ErrorClass.MALFORMED


def test_speech_sse_events_decode_audio_and_usage() -> None:
    delta = json.dumps({"type": "speech.audio.delta", "audio": base64.b64encode(b"\x01\x02").decode()})
    done = json.dumps({"type": "speech.audio.done", "usage": {"input_tokens": 4, "output_tokens": 9}})
    assert parse_speech_event(delta) == (b"\x01\x02", None)
    assert parse_speech_event(done) == (b"", {Unit.INPUT_TOKEN: 4, Unit.OUTPUT_TOKEN: 9})
    with pytest.raises(ProviderError) as caught:
        parse_speech_event(json.dumps({"type": "speech.audio.delta", "audio": "!!not base64"}))
    assert caught.value.error_class is ErrorClass.MALFORMED


# -- pure wire format: transcription ------------------------------------------------------------------------------
def test_whisper_form_asks_for_verbose_json_with_words() -> None:
    request = TranscriptionRequest(audio=b"RIFF", content_type="audio/wav", language="en-US")
    fields, files = transcription_form(request, model="whisper-1")
    assert fields == {
        "model": "whisper-1",
        "response_format": "verbose_json",
        "timestamp_granularities[]": "word",
        "language": "en",
    }
    assert files == {"file": ("audio.wav", b"RIFF", "audio/wav")}


def test_gpt4o_transcribe_form_asks_for_json_and_names_the_container() -> None:
    fields, files = transcription_form(TranscriptionRequest(b"\xff\xfb", "audio/mpeg"), model="gpt-4o-transcribe")
    assert fields == {"model": "gpt-4o-transcribe", "response_format": "json"}
    assert files["file"][0] == "audio.mp3"


@pytest.mark.parametrize(
    ("audio", "content_type", "name"),
    [
        (silent_mp3(0.1), "application/octet-stream", "audio.mp3"),  # the bytes decide, not the label
        (sine_wav(0.1), "audio/mpeg", "audio.wav"),
        (b"\x00\x01" * 50, "audio/m4a", "audio.m4a"),  # unsniffable: trust the declared type
    ],
)
def test_upload_file_name_matches_the_audio(audio: bytes, content_type: str, name: str) -> None:
    _, files = transcription_form(TranscriptionRequest(audio, content_type), model="whisper-1")
    assert files["file"][0] == name


def test_raw_pcm_upload_is_unsupported() -> None:
    with pytest.raises(ProviderError) as caught:
        transcription_form(TranscriptionRequest(b"\x00\x01" * 50, "audio/L16; rate=16000"), model="whisper-1")
    assert caught.value.error_class is ErrorClass.UNSUPPORTED


def test_parse_verbose_json() -> None:
    body = {
        "language": "english",
        "duration": 8.47,
        "text": " The cat ",
        "words": [{"word": "The", "start": 0.0, "end": 0.24}, {"word": "cat", "start": 0.3, "end": 0.6}],
        "usage": {"type": "duration", "seconds": 9},
    }
    result = parse_transcription(body, model="whisper-1", request=TranscriptionRequest(b"x", "audio/wav"))
    assert (result.text, result.duration, result.language, result.usage) == ("The cat", 8.47, "english", {})
    assert [(w.word, w.start, w.end, w.confidence) for w in result.words] == [
        ("The", 0.0, 0.24, None),
        ("cat", 0.3, 0.6, None),
    ]


def test_parse_token_usage_takes_duration_from_the_gateway() -> None:
    body = {"text": "hi", "usage": {"type": "tokens", "input_tokens": 14, "output_tokens": 45, "total_tokens": 59}}
    request = TranscriptionRequest(b"x", "audio/wav", duration=3.25, language="de")
    result = parse_transcription(body, model="gpt-4o-transcribe", request=request)
    assert result.usage == {Unit.INPUT_TOKEN: 14, Unit.OUTPUT_TOKEN: 45}
    assert (result.duration, result.language) == (3.25, "de")


def test_parse_duration_usage_when_no_verbose_duration() -> None:
    body = {"text": "hi", "usage": {"type": "duration", "seconds": 9}}
    assert parse_transcription(body, model="whisper-1", request=TranscriptionRequest(b"x", "audio/wav")).duration == 9.0


@pytest.mark.parametrize(
    "body", [{"txt": "hi"}, [], {"text": "hi", "words": [{"word": "a"}]}, {"text": "a", "duration": "x"}]
)
def test_parse_transcription_malformed(body: object) -> None:
    with pytest.raises(ProviderError) as caught:
        parse_transcription(body, model="whisper-1", request=TranscriptionRequest(b"x", "audio/wav"))
    assert caught.value.error_class is ErrorClass.MALFORMED


# -- pure wire format: chat ---------------------------------------------------------------------------------------
def test_chat_payload_uses_max_completion_tokens_and_asks_for_stream_usage() -> None:
    request = CompletionRequest(messages=messages("hi"), temperature=0.2, max_tokens=50)
    assert chat_payload(request, model="gpt-4o", stream=True) == {
        "model": "gpt-4o",
        "messages": [{"role": "user", "content": "hi"}],
        "max_completion_tokens": 50,
        "temperature": 0.2,
        "stream": True,
        "stream_options": {"include_usage": True},
    }


def test_parse_completion() -> None:
    body = {
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello!"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 19, "completion_tokens": 10, "total_tokens": 29},
    }
    result = parse_completion(body, model="gpt-4o-mini")
    assert (result.text, result.model, result.input_tokens, result.output_tokens, result.finish_reason) == (
        "Hello!",
        "gpt-4o-mini-2024-07-18",
        19,
        10,
        "stop",
    )
    with pytest.raises(ProviderError) as caught:
        parse_completion({"choices": []}, model="gpt-4o-mini")
    assert caught.value.error_class is ErrorClass.MALFORMED


def test_parse_stream_events() -> None:
    role = {
        "model": "m",
        "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}],
    }
    text = {"model": "m", "choices": [{"index": 0, "delta": {"content": "Hel"}, "finish_reason": None}], "usage": None}
    usage = {"model": "m", "choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}}
    assert parse_stream_event(json.dumps(role)) is None
    assert parse_stream_event(json.dumps(text)).text == "Hel"  # type: ignore[union-attr]
    last = parse_stream_event(json.dumps(usage))
    assert last is not None and (last.input_tokens, last.output_tokens, last.text) == (5, 2, "")


@pytest.mark.parametrize(
    ("data", "error_class"),
    [('{"error": {"message": "boom", "type": "server_error"}}', ErrorClass.SERVER), ("{nope", ErrorClass.MALFORMED)],
)
def test_stream_error_events(data: str, error_class: ErrorClass) -> None:
    with pytest.raises(ProviderError) as caught:
        parse_stream_event(data)
    assert caught.value.error_class is error_class


# -- pure: errors and prices ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("status", "body", "override"),
    [
        (429, INSUFFICIENT_QUOTA, ErrorClass.QUOTA),
        (429, {"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}}, None),
        (
            401,
            {"error": {"message": "Incorrect API key provided: sk-ab***yz.", "code": "invalid_api_key"}},
            ErrorClass.AUTH,
        ),
        (502, None, None),
    ],
)
def test_describe_error(status: int, body: object, override: ErrorClass | None) -> None:
    message, cls = describe_error(status, body, "<html>bad gateway</html>" if body is None else json.dumps(body))
    assert cls is override
    assert "sk-ab" not in message and message


def test_describe_for_scrubs_a_literal_key_echoed_by_a_proxy() -> None:
    describe = describe_for(Credentials(api_key="sk-secret-123", base_url="http://x"))
    message, _ = describe(500, None, "upstream said: bad key sk-secret-123")
    assert "sk-secret-123" not in message


def test_price_table_lists_documented_prices() -> None:
    def cost(model: str, **units: int) -> Decimal:
        return provider.prices.cost(model, {Unit(k): v for k, v in units.items()})

    assert cost("tts-1", characters=1_000_000) == Decimal(15)
    assert cost("tts-1-hd", characters=1_000_000) == Decimal(30)
    assert cost("whisper-1", audio_seconds=60) == Decimal("0.006")
    assert cost("gpt-4o", input_tokens=1_000_000, output_tokens=1_000_000) == Decimal("12.5")
    assert cost("gpt-5.4-mini", input_tokens=1_000_000, output_tokens=1_000_000) == Decimal("5.25")
    assert cost("some-new-chat-model", input_tokens=1_000_000, output_tokens=1_000_000) == Decimal("0.75")
    assert provider.estimate_synthesis_cost(SynthesisRequest(text="x" * 900, model="gpt-4o-mini-tts")) == Decimal(
        "0.015"
    )


# -- contract against the fake -----------------------------------------------------------------------------------
server, state, http = loopback_fixtures(create_app)


def call(http: httpx.AsyncClient, server: FakeServer, key: str = API_KEY, timeout: float = 2.0) -> Call:
    return Call(http=http, credentials=Credentials(api_key=key, base_url=f"{server.url}/v1"), timeout=timeout)


@pytest.mark.parametrize(("fmt", "magic"), [("mp3", b"\xff\xfb"), ("wav", b"RIFF"), ("opus", b"OggS"), ("pcm", b"")])
async def test_synthesize_formats(http, server, state, fmt: str, magic: bytes) -> None:
    text = "Hello there, this is a test."
    result = await provider.synthesize(call(http, server), SynthesisRequest(text=text, format=fmt, voice="female"))
    assert result.audio.startswith(magic) and len(result.audio) > 100
    assert (result.content_type, result.model, result.characters) == (
        {"mp3": "audio/mpeg", "wav": "audio/wav", "opus": "audio/ogg", "pcm": "audio/pcm"}[fmt],
        "tts-1",
        len(text),
    )
    sent = json.loads(state.requests[0].body)
    assert (sent["voice"], sent["response_format"], state.requests[0].headers["authorization"]) == (
        "nova",
        fmt,
        f"Bearer {API_KEY}",
    )
    seconds = len(text) * 0.06  # what the fake renders for this input
    if fmt in ("pcm", "wav"):  # pcm: exact from 24 kHz; wav: from its header
        assert result.duration == pytest.approx(seconds, abs=1e-3)
    elif fmt == "mp3":  # whole MP3 frames: at most one frame (26 ms) longer
        assert result.duration is not None and seconds <= result.duration < seconds + 0.027


async def test_synthesis_cost_is_list_price_times_characters(http, server, state) -> None:
    text = "x" * 1234
    for model, usd_per_m in (("tts-1", 15), ("tts-1-hd", 30)):
        result = await provider.synthesize(call(http, server), SynthesisRequest(text=text, model=model))
        assert result.characters == 1234
        assert provider.synthesis_cost(result) == Decimal(usd_per_m) * 1234 / PER_M


async def test_gpt4o_mini_tts_bills_the_tokens_the_vendor_reports(http, server, state) -> None:
    text = "one two three four five six"
    result = await provider.synthesize(
        call(http, server), SynthesisRequest(text=text, model="gpt-4o-mini-tts", format="wav", speed=2.0)
    )
    seconds = len(text) * 0.06 / 2.0  # the fake's audio length for this input and speed
    expected = {Unit.INPUT_TOKEN: 6 + 2, Unit.OUTPUT_TOKEN: math.ceil(seconds * 10)}
    assert result.usage == expected and result.audio.startswith(b"RIFF")
    assert json.loads(state.requests[0].body)["stream_format"] == "sse"
    assert (
        provider.synthesis_cost(result)
        == (Decimal("0.60") * expected[Unit.INPUT_TOKEN] + Decimal("12.00") * expected[Unit.OUTPUT_TOKEN]) / PER_M
    )


@pytest.mark.parametrize("model", ["tts-1", "gpt-4o-mini-tts"])
async def test_stream_synthesis_yields_the_vendor_chunks(http, server, state, model: str) -> None:
    request = SynthesisRequest(text="streaming " * 6, format="pcm", model=model)
    chunks = [c async for c in provider.stream_synthesis(call(http, server), request)]
    whole = await provider.synthesize(call(http, server), request)
    assert len(chunks) >= 3
    assert b"".join(chunks) == whole.audio


async def test_transcribe_whisper_words_and_duration(http, server, state) -> None:
    audio = sine_wav(1.5)
    result = await provider.transcribe(call(http, server), TranscriptionRequest(audio=audio, content_type="audio/wav"))
    assert (result.text, result.duration, result.model) == (DEFAULT_TRANSCRIPT, 1.5, "whisper-1")
    assert [w.word for w in result.words] == DEFAULT_TRANSCRIPT.split()
    assert result.words[-1].end <= 1.5 and result.words[0].start == 0.0
    assert provider.transcription_cost(result) == Decimal("0.006") / 60 * Decimal("1.5")
    assert b'filename="audio.wav"' in state.requests[0].body


async def test_transcribe_gpt4o_bills_reported_tokens(http, server, state) -> None:
    state.options["transcript"] = "three little words"
    request = TranscriptionRequest(
        audio=silent_mp3(2.0), content_type="audio/mpeg", model="gpt-4o-mini-transcribe", duration=2.0
    )
    result = await provider.transcribe(call(http, server), request)
    assert result.text == "three little words" and result.duration == 2.0 and result.words == []
    audio_tokens = math.ceil(len(silent_mp3(2.0)) // 417 * 1152 / 44100 * 10)  # what the fake counts for this upload
    assert result.usage == {Unit.INPUT_TOKEN: audio_tokens, Unit.OUTPUT_TOKEN: 3}
    assert provider.transcription_cost(result) == (Decimal("1.25") * audio_tokens + Decimal("5.00") * 3) / PER_M


async def test_complete_echoes_and_bills_usage(http, server, state) -> None:
    request = CompletionRequest(messages=messages("say something nice"), model="gpt-4o", max_tokens=100)
    result = await provider.complete(call(http, server), request)
    assert (result.text, result.input_tokens, result.output_tokens, result.finish_reason) == (
        "Echo: say something nice",
        3 + 3 + 3,
        4,
        "stop",
    )
    assert json.loads(state.requests[0].body)["max_completion_tokens"] == 100
    assert (
        provider.completion_cost(result.model, result.input_tokens, result.output_tokens)
        == (Decimal("2.50") * 9 + Decimal("10.00") * 4) / PER_M
    )


async def test_stream_completion_text_then_usage(http, server, state) -> None:
    request = CompletionRequest(messages=messages("count to five please"))
    chunks = [c async for c in provider.stream_completion(call(http, server), request)]
    whole = await provider.complete(call(http, server), request)
    assert len([c for c in chunks if c.text]) >= 3
    assert "".join(c.text for c in chunks) == whole.text
    assert (chunks[-1].input_tokens, chunks[-1].output_tokens) == (whole.input_tokens, whole.output_tokens)
    assert any(c.finish_reason == "stop" for c in chunks)


async def test_probe(http, server, state) -> None:
    await provider.probe(call(http, server))
    assert (state.requests[0].method, state.requests[0].path) == ("GET", "/v1/models")


# -- contract: failures ------------------------------------------------------------------------------------------
OPERATIONS = {
    "synthesize": lambda c: provider.synthesize(c, SynthesisRequest(text="hello")),
    "transcribe": lambda c: provider.transcribe(c, TranscriptionRequest(audio=sine_wav(0.2), content_type="audio/wav")),
    "complete": lambda c: provider.complete(c, CompletionRequest(messages=messages("hi"))),
    "probe": lambda c: provider.probe(c),
}


async def drain(agen: AsyncIterator[object]) -> list[object]:
    return [item async for item in agen]


STREAMS = {
    "stream_synthesis": lambda c: drain(provider.stream_synthesis(c, SynthesisRequest(text="hello " * 30))),
    "stream_completion": lambda c: drain(provider.stream_completion(c, CompletionRequest(messages=messages("a b c")))),
}


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (400, ErrorClass.INVALID_INPUT),
        (401, ErrorClass.AUTH),
        (403, ErrorClass.AUTH),
        (404, ErrorClass.UNSUPPORTED),
        (422, ErrorClass.INVALID_INPUT),
        (429, ErrorClass.RATE_LIMITED),
        (500, ErrorClass.SERVER),
        (503, ErrorClass.SERVER),
    ],
)
@pytest.mark.parametrize("operation", ["synthesize", "complete"])
async def test_error_statuses(http, server, state, status: int, error_class: ErrorClass, operation: str) -> None:
    state.fail(Fault("status", status=status))
    with pytest.raises(ProviderError) as caught:
        await OPERATIONS[operation](call(http, server))
    error = caught.value
    assert (error.provider, error.error_class, error.status, error.retry_after) == ("openai", error_class, status, None)
    assert error.message


@pytest.mark.parametrize("operation", ["synthesize", "transcribe", "complete"])
async def test_429_with_retry_after_seconds(http, server, state, operation: str) -> None:
    state.fail(Fault("status", status=429, retry_after="7"))
    with pytest.raises(ProviderError) as caught:
        await OPERATIONS[operation](call(http, server))
    assert (caught.value.error_class, caught.value.retry_after) == (ErrorClass.RATE_LIMITED, 7.0)


async def test_429_retry_after_ms_wins(http, server, state) -> None:
    state.options["retry_after_ms"] = 1500
    state.fail(Fault("status", status=429, retry_after="7"))
    with pytest.raises(ProviderError) as caught:
        await OPERATIONS["complete"](call(http, server))
    assert caught.value.retry_after == 1.5


@pytest.mark.parametrize("operation", ["synthesize", "complete", "stream_completion"])
async def test_insufficient_quota_is_quota_not_rate_limit(http, server, state, operation: str) -> None:
    state.fail(Fault("status", status=429, body=INSUFFICIENT_QUOTA))
    run = OPERATIONS.get(operation) or STREAMS[operation]
    with pytest.raises(ProviderError) as caught:
        await run(call(http, server))
    assert (caught.value.error_class, caught.value.retry_after) == (ErrorClass.QUOTA, None)
    assert "quota" in caught.value.message


@pytest.mark.parametrize("operation", [*OPERATIONS, *STREAMS])
async def test_wrong_key_is_auth_and_never_echoed(http, server, state, operation: str) -> None:
    run = OPERATIONS.get(operation) or STREAMS[operation]
    with pytest.raises(ProviderError) as caught:
        await run(call(http, server, key="sk-wrong-key-123456"))
    assert (caught.value.error_class, caught.value.status) == (ErrorClass.AUTH, 401)
    assert "wrong-key" not in caught.value.message and "3456" not in caught.value.message


@pytest.mark.parametrize("operation", [*OPERATIONS, *STREAMS])
async def test_malformed_body(http, server, state, operation: str) -> None:
    state.fail(Fault("malformed"))
    run = OPERATIONS.get(operation) or STREAMS[operation]
    with pytest.raises(ProviderError) as caught:
        await run(call(http, server))
    assert caught.value.error_class is ErrorClass.MALFORMED


async def test_malformed_token_tts_stream(http, server, state) -> None:
    state.fail(Fault("malformed"))
    with pytest.raises(ProviderError) as caught:
        await provider.synthesize(call(http, server), SynthesisRequest(text="hi", model="gpt-4o-mini-tts"))
    assert caught.value.error_class is ErrorClass.MALFORMED


@pytest.mark.parametrize("operation", ["synthesize", "transcribe", "complete", *STREAMS])
async def test_cut_mid_body_is_connection(http, server, state, operation: str) -> None:
    state.fail(Fault("cut", after_chunks=2))
    run = OPERATIONS.get(operation) or STREAMS[operation]
    with pytest.raises(ProviderError) as caught:
        await run(call(http, server))
    assert caught.value.error_class is ErrorClass.CONNECTION


async def test_stream_synthesis_delivers_chunks_before_the_cut(http, server, state) -> None:
    state.fail(Fault("cut", after_chunks=2))
    caught, received = await stream_failure(
        provider.stream_synthesis(call(http, server), SynthesisRequest(text="hello " * 30))
    )
    assert caught.value.error_class is ErrorClass.CONNECTION
    assert received and received[0].startswith(b"\xff\xfb")


async def test_mid_stream_error_event_is_server_error(http, server, state) -> None:
    state.options["stream_error_after"] = 2
    received = []
    with pytest.raises(ProviderError) as caught:
        async for chunk in provider.stream_completion(
            call(http, server), CompletionRequest(messages=messages("a b c d"))
        ):
            received.append(chunk.text)
    assert caught.value.error_class is ErrorClass.SERVER
    assert received == ["Echo:", " a"]


@pytest.mark.parametrize("operation", ["synthesize", "complete", "stream_completion"])
async def test_hang_is_timeout(http, server, state, operation: str) -> None:
    state.fail(Fault("hang"))
    run = OPERATIONS.get(operation) or STREAMS[operation]
    with pytest.raises(ProviderError) as caught:
        await run(call(http, server, timeout=0.3))
    assert caught.value.error_class is ErrorClass.TIMEOUT


async def test_stalled_stream_is_timeout(http, server, state) -> None:
    # Headers arrive at once; then the vendor stalls longer than the attempt's read timeout between chunks.
    state.options["chunk_delay"] = 0.6
    received: list[bytes] = []
    with pytest.raises(ProviderError) as caught:
        async for chunk in provider.stream_synthesis(
            call(http, server, timeout=0.3), SynthesisRequest(text="hi " * 30)
        ):
            received.append(chunk)
    assert caught.value.error_class is ErrorClass.TIMEOUT
    assert len(received) == 1  # the first chunk came; the stall after it is what timed out


async def test_refused_connection_is_connection(http) -> None:
    from tests.fakes.harness import free_port

    dead = Call(
        http=http, credentials=Credentials(api_key=API_KEY, base_url=f"http://127.0.0.1:{free_port()}/v1"), timeout=1
    )
    with pytest.raises(ProviderError) as caught:
        await provider.probe(dead)
    assert caught.value.error_class is ErrorClass.CONNECTION


def test_credentials_from_env() -> None:
    assert OpenAIProvider.credentials_from_env({}) is None
    creds = OpenAIProvider.credentials_from_env({"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": "http://127.0.0.1:9/v1/"})
    assert creds == Credentials(api_key="k", base_url="http://127.0.0.1:9/v1")
    assert OpenAIProvider.credentials_from_env({"OPENAI_API_KEY": "k"}).base_url == "https://api.openai.com/v1"  # type: ignore[union-attr]


# -- the official SDK against the fake ------------------------------------------------------------------------------
@pytest.fixture
async def sdk(server: FakeServer) -> AsyncIterator[openai.AsyncOpenAI]:
    client = openai.AsyncOpenAI(base_url=f"{server.url}/v1", api_key="test-openai-key", max_retries=0, timeout=5)
    yield client
    await client.close()


async def test_sdk_speech(sdk, state) -> None:
    response = await sdk.audio.speech.create(model="tts-1", voice="alloy", input="hello sdk", response_format="wav")
    assert response.content.startswith(b"RIFF")
    assert state.requests[0].headers["accept"] == "application/octet-stream"
    async with sdk.audio.speech.with_streaming_response.create(
        model="tts-1", voice="nova", input="hello " * 5, response_format="pcm"
    ) as streamed:
        chunks = [c async for c in streamed.iter_bytes()]
    assert len(chunks) >= 3
    assert sum(len(c) for c in chunks) == int(len("hello " * 5) * 0.06 * 24000) * 2


async def test_sdk_transcription(sdk, state) -> None:
    verbose = await sdk.audio.transcriptions.create(
        model="whisper-1",
        file=("clip.wav", sine_wav(1.0), "audio/wav"),
        response_format="verbose_json",
        timestamp_granularities=["word"],
    )
    assert (verbose.text, verbose.duration) == (DEFAULT_TRANSCRIPT, 1.0)
    assert [w.word for w in verbose.words or []] == DEFAULT_TRANSCRIPT.split()
    tokens = await sdk.audio.transcriptions.create(
        model="gpt-4o-transcribe", file=("clip.wav", sine_wav(1.0), "audio/wav")
    )
    assert tokens.text == DEFAULT_TRANSCRIPT
    assert tokens.usage is not None and tokens.usage.type == "tokens" and tokens.usage.input_tokens == 10


async def test_sdk_chat_and_streamed_chat(sdk, state) -> None:
    completion = await sdk.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi there"}]
    )
    assert completion.choices[0].message.content == "Echo: hi there"
    assert completion.usage is not None and completion.usage.completion_tokens == 3
    stream = await sdk.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "hi there"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [chunk async for chunk in stream]
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Echo: hi there"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.total_tokens == completion.usage.total_tokens
    assert state.requests[-1].headers["content-type"].startswith("application/json")


async def test_sdk_sees_openai_errors(sdk, state) -> None:
    state.options["stream_error_after"] = 1
    stream = await sdk.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "a b"}], stream=True
    )
    with pytest.raises(openai.APIError):
        async for _ in stream:
            pass
    state.fail(Fault("status", status=429, body=INSUFFICIENT_QUOTA))
    with pytest.raises(openai.RateLimitError) as quota:
        await sdk.models.list()
    assert quota.value.code == "insufficient_quota"
    bad = openai.AsyncOpenAI(base_url=sdk.base_url, api_key="sk-nope-000000", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as denied:
        await bad.models.list()
    await bad.close()
    assert denied.value.code == "invalid_api_key"

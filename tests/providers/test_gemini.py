"""Gemini adapter: pure wire-format functions, then the contract against the fake Gemini API on loopback."""

from __future__ import annotations

import json
from functools import partial

import pytest

from gateway.errors import ErrorClass, ProviderError
from providers.base import Call, CompletionChunk, CompletionRequest, per_million
from providers.gemini import GeminiProvider, StreamState, generate_payload, parse_generate, usage_tokens
from tests.fakes.gemini import API_KEY, DEFAULT_REPLY, create_app
from tests.fakes.harness import Fault
from tests.providers import loopback
from tests.providers.loopback import ask, loopback_fixtures

provider = GeminiProvider()


# -- pure wire format ------------------------------------------------------------------------------------------------
def test_payload_maps_roles_system_and_generation_config() -> None:
    request = ask(("system", "Be brief."), ("user", "Hi"), ("assistant", "Hello"), ("user", "?"))
    assert generate_payload(request) == {
        "contents": [
            {"role": "user", "parts": [{"text": "Hi"}]},
            {"role": "model", "parts": [{"text": "Hello"}]},
            {"role": "user", "parts": [{"text": "?"}]},
        ],
        "systemInstruction": {"parts": [{"text": "Be brief."}]},
    }
    tuned = generate_payload(ask(("user", "Hi"), temperature=0.0, max_tokens=64))
    assert tuned["generationConfig"] == {"temperature": 0.0, "maxOutputTokens": 64}


def test_thinking_tokens_are_billed_as_output() -> None:
    assert usage_tokens({"promptTokenCount": 3, "candidatesTokenCount": 5, "thoughtsTokenCount": 7}) == (3, 12)
    assert usage_tokens({"promptTokenCount": 3}) == (3, 0)
    assert usage_tokens(None) == (0, 0)


def test_parse_generate() -> None:
    body = {
        "candidates": [
            {
                "content": {
                    "role": "model",
                    "parts": [{"text": "plan", "thought": True}, {"text": "Hi"}, {"text": "!"}],
                },
                "finishReason": "MAX_TOKENS",
            }
        ],
        "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 5, "totalTokenCount": 8},
        "modelVersion": "gemini-2.5-flash-001",
    }
    result = parse_generate(body, "gemini-2.5-flash")
    assert (result.text, result.model, result.input_tokens, result.output_tokens, result.finish_reason) == (
        "Hi!",
        "gemini-2.5-flash-001",
        3,
        5,
        "length",
    )
    for broken in ({"candidates": "x"}, {}, [], {"candidates": [{"content": {"parts": [1]}}]}):
        with pytest.raises(ProviderError) as caught:
            parse_generate(broken, "m")
        assert caught.value.error_class is ErrorClass.MALFORMED
    with pytest.raises(ProviderError) as caught:
        parse_generate({"promptFeedback": {"blockReason": "SAFETY"}}, "m")
    assert caught.value.error_class is ErrorClass.INVALID_INPUT


def test_stream_state_takes_usage_from_the_last_chunk() -> None:
    state = StreamState("gemini-2.5-flash")
    first = {"candidates": [{"content": {"parts": [{"text": "Hel"}]}}], "usageMetadata": {"promptTokenCount": 4}}
    last = {
        "candidates": [{"content": {"parts": [{"text": "lo"}]}, "finishReason": "STOP"}],
        "usageMetadata": {"promptTokenCount": 4, "candidatesTokenCount": 2, "thoughtsTokenCount": 1},
    }
    assert state.on_data(json.dumps(first)) == CompletionChunk(text="Hel", model="gemini-2.5-flash")
    assert state.on_data(json.dumps(last)) == CompletionChunk(text="lo", model="gemini-2.5-flash")
    assert state.final() == CompletionChunk(
        finish_reason="stop", input_tokens=4, output_tokens=3, model="gemini-2.5-flash"
    )


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ('{"error": {"code": 503, "message": "overloaded", "status": "UNAVAILABLE"}}', ErrorClass.SERVER),
        ('{"error": {"code": 429, "message": "slow", "status": "RESOURCE_EXHAUSTED"}}', ErrorClass.RATE_LIMITED),
        ('{"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}}', ErrorClass.INVALID_INPUT),
        ("{oops", ErrorClass.MALFORMED),
        ("[]", ErrorClass.MALFORMED),
    ],
)
def test_stream_state_errors(data: str, expected: ErrorClass) -> None:
    with pytest.raises(ProviderError) as caught:
        StreamState("m").on_data(data)
    assert caught.value.error_class is expected


# -- contract against the fake ---------------------------------------------------------------------------------------
server, state, http = loopback_fixtures(create_app)
make_call = partial(loopback.make_call, key=API_KEY)


async def collect(call: Call, request: CompletionRequest) -> list[CompletionChunk]:
    return [chunk async for chunk in provider.stream_completion(call, request)]


HELLO = ask(("system", "You are terse."), ("user", "Say hello please"))
HELLO_INPUT_TOKENS = 6  # the fake counts words of systemInstruction + contents
REPLY_TOKENS = len(DEFAULT_REPLY.split())


async def test_complete_sends_documented_request(http, server, state) -> None:
    result = await provider.complete(make_call(http, server), HELLO)
    sent = state.requests[0]
    assert (sent.path, sent.headers["x-goog-api-key"]) == ("/v1beta/models/gemini-2.5-flash:generateContent", API_KEY)
    assert json.loads(sent.body)["systemInstruction"] == {"parts": [{"text": "You are terse."}]}
    assert (result.text, result.model, result.finish_reason) == (DEFAULT_REPLY, "gemini-2.5-flash", "stop")
    assert (result.input_tokens, result.output_tokens) == (HELLO_INPUT_TOKENS, REPLY_TOKENS)


async def test_max_tokens_is_honoured(http, server, state) -> None:
    result = await provider.complete(make_call(http, server), ask(("user", "Hi"), max_tokens=2))
    assert (result.text, result.output_tokens, result.finish_reason) == ("Hello from", 2, "length")


async def test_stream_yields_text_then_final_usage(http, server, state) -> None:
    state.options["thoughts_tokens"] = 11
    chunks = await collect(make_call(http, server), HELLO)
    sent = state.requests[0]
    assert (sent.path, sent.query) == ("/v1beta/models/gemini-2.5-flash:streamGenerateContent", "alt=sse")
    assert "".join(c.text for c in chunks) == DEFAULT_REPLY and len(chunks) > 2
    last = chunks[-1]
    assert (last.text, last.finish_reason, last.input_tokens, last.output_tokens) == (
        "",
        "stop",
        HELLO_INPUT_TOKENS,
        REPLY_TOKENS + 11,
    )


async def test_blocked_prompt_is_invalid_input(http, server, state) -> None:
    state.options["block_reason"] = "SAFETY"
    for attempt in (provider.complete(make_call(http, server), HELLO), collect(make_call(http, server), HELLO)):
        with pytest.raises(ProviderError) as caught:
            await attempt
        assert caught.value.error_class is ErrorClass.INVALID_INPUT


async def test_stream_error_object_mid_stream(http, server, state) -> None:
    state.options["stream_error_after"] = 1
    received: list[CompletionChunk] = []
    with pytest.raises(ProviderError) as caught:
        async for chunk in provider.stream_completion(make_call(http, server), HELLO):
            received.append(chunk)
    assert (caught.value.error_class, caught.value.status) == (ErrorClass.SERVER, 503)
    assert [c.text for c in received] == ["Hello from "]


@pytest.mark.parametrize("after", [0, 1, 3])  # before any text, mid-text, just before the finishing chunk
async def test_stream_cut_is_connection_error(http, server, state, after: int) -> None:
    state.fail(Fault("cut", after_chunks=after))
    with pytest.raises(ProviderError) as caught:
        await collect(make_call(http, server), HELLO)
    assert caught.value.error_class is ErrorClass.CONNECTION


async def test_stream_ending_cleanly_without_finish_reason_is_a_cut(http, server, state) -> None:
    state.options["end_early"] = True  # e.g. a proxy that closes the connection politely mid-answer
    received: list[CompletionChunk] = []
    with pytest.raises(ProviderError) as caught:
        async for chunk in provider.stream_completion(make_call(http, server), HELLO):
            received.append(chunk)
    assert caught.value.error_class is ErrorClass.CONNECTION
    assert received and all(c.input_tokens is None for c in received)  # text so far, but never a usage chunk


async def test_stream_malformed_chunk(http, server, state) -> None:
    state.fail(Fault("malformed"))
    with pytest.raises(ProviderError) as caught:
        await collect(make_call(http, server), HELLO)
    assert caught.value.error_class is ErrorClass.MALFORMED


async def test_slow_stream_completes_and_stall_times_out(http, server, state) -> None:
    state.fail(Fault("slow", delay=0.02))
    assert (await collect(make_call(http, server), HELLO))[-1].output_tokens == REPLY_TOKENS
    state.fail(Fault("slow", delay=0.5))
    with pytest.raises(ProviderError) as caught:
        await collect(make_call(http, server, timeout=0.3), HELLO)
    assert caught.value.error_class is ErrorClass.TIMEOUT


async def test_hang_is_timeout(http, server, state) -> None:
    state.fail(Fault("hang"), Fault("hang"))
    call = make_call(http, server, timeout=0.2)
    for attempt in (provider.complete(call, HELLO), collect(call, HELLO)):
        with pytest.raises(ProviderError) as caught:
            await attempt
        assert caught.value.error_class is ErrorClass.TIMEOUT


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (400, ErrorClass.INVALID_INPUT),
        (403, ErrorClass.AUTH),
        (404, ErrorClass.UNSUPPORTED),
        (500, ErrorClass.SERVER),
        (503, ErrorClass.SERVER),
        (504, ErrorClass.TIMEOUT),
    ],
)
async def test_error_statuses(http, server, state, status: int, expected: ErrorClass) -> None:
    state.fail(Fault("status", status=status), Fault("status", status=status))
    call = make_call(http, server)
    for attempt in (provider.complete(call, HELLO), collect(call, HELLO)):
        with pytest.raises(ProviderError) as caught:
            await attempt
        assert (caught.value.error_class, caught.value.status, caught.value.retry_after) == (expected, status, None)


async def test_429_retry_delay_from_body_or_header(http, server, state) -> None:
    state.options["retry_delay"] = "17s"
    state.fail(Fault("status", status=429), Fault("status", status=429, retry_after="2"))
    call = make_call(http, server)
    for attempt, retry_after in ((provider.complete(call, HELLO), 17.0), (collect(call, HELLO), 2.0)):
        with pytest.raises(ProviderError) as caught:
            await attempt
        assert (caught.value.error_class, caught.value.retry_after) == (ErrorClass.RATE_LIMITED, retry_after)


@pytest.mark.parametrize(("key", "status"), [(None, 403), ("wrong-key", 400)])
async def test_bad_key_is_auth(http, server, state, key: str | None, status: int) -> None:
    with pytest.raises(ProviderError) as caught:
        await provider.complete(make_call(http, server, key=key), HELLO)
    assert (caught.value.error_class, caught.value.status) == (ErrorClass.AUTH, status)
    assert "wrong-key" not in caught.value.message


async def test_unknown_model_is_unsupported(http, server, state) -> None:
    with pytest.raises(ProviderError) as caught:
        await provider.complete(make_call(http, server), ask(("user", "Hi"), model="gemini-0.1-nonexistent"))
    assert caught.value.error_class is ErrorClass.UNSUPPORTED


async def test_malformed_and_cut_whole_responses(http, server, state) -> None:
    state.fail(Fault("malformed"), Fault("cut"))
    call = make_call(http, server)
    for expected in (ErrorClass.MALFORMED, ErrorClass.CONNECTION):
        with pytest.raises(ProviderError) as caught:
            await provider.complete(call, HELLO)
        assert caught.value.error_class is expected


async def test_probe_lists_models(http, server, state) -> None:
    await provider.probe(make_call(http, server))
    assert state.requests[-1].path == "/v1beta/models"
    state.fail(Fault("malformed"))
    with pytest.raises(ProviderError) as caught:
        await provider.probe(make_call(http, server))
    assert caught.value.error_class is ErrorClass.MALFORMED


@pytest.mark.parametrize(
    ("model", "per_in", "per_out"), [("gemini-2.5-flash", "0.30", "2.50"), ("gemini-2.5-pro", "1.25", "10")]
)
async def test_cost_is_list_price_times_reported_tokens(http, server, state, model, per_in, per_out) -> None:
    state.options["thoughts_tokens"] = 40
    result = await provider.complete(make_call(http, server), ask(("user", "one two three"), model=model))
    assert (result.input_tokens, result.output_tokens) == (3, REPLY_TOKENS + 40)
    expected = per_million(per_in) * result.input_tokens + per_million(per_out) * result.output_tokens
    assert provider.completion_cost(result.model, result.input_tokens, result.output_tokens) == expected

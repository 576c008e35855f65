"""Anthropic adapter: pure wire-format functions, then the contract against the fake Messages API on loopback."""

from __future__ import annotations

import json
from functools import partial

import pytest

from gateway.errors import ErrorClass, ProviderError
from providers.anthropic import AnthropicProvider, StreamState, describe_error, messages_payload, parse_message
from providers.base import Call, CompletionChunk, CompletionRequest, per_million
from tests.fakes.anthropic import API_KEY, DEFAULT_REPLY, create_app, error_body
from tests.fakes.harness import Fault
from tests.providers import loopback
from tests.providers.loopback import ask, loopback_fixtures

provider = AnthropicProvider()


# -- pure wire format ------------------------------------------------------------------------------------------------
def test_payload_lifts_system_and_defaults_max_tokens() -> None:
    request = ask(
        ("system", "Be brief."), ("user", "Hi"), ("assistant", "Hello"), ("system", "No emoji."), ("user", "?")
    )
    assert messages_payload(request, "claude-haiku-4-5") == {
        "model": "claude-haiku-4-5",
        "max_tokens": 1024,
        "messages": [
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello"},
            {"role": "user", "content": "?"},
        ],
        "system": "Be brief.\n\nNo emoji.",
    }
    tuned = messages_payload(ask(("user", "Hi"), max_tokens=50, temperature=0.2), "m", stream=True)
    assert (tuned["max_tokens"], tuned["temperature"], tuned["stream"], "system" in tuned) == (50, 0.2, True, False)


def test_parse_message() -> None:
    body = {
        "content": [
            {"type": "thinking", "thinking": "..."},
            {"type": "text", "text": "Hi"},
            {"type": "text", "text": "!"},
        ],
        "model": "claude-sonnet-4-6",
        "stop_reason": "max_tokens",
        "usage": {"input_tokens": 25, "output_tokens": 15},
    }
    result = parse_message(body, "fallback")
    assert (result.text, result.model, result.input_tokens, result.output_tokens, result.finish_reason) == (
        "Hi!", "claude-sonnet-4-6", 25, 15, "length",
    )  # fmt: skip
    for broken in ({"content": "x", "usage": {}}, {"content": []}, [], {"content": [], "usage": {"input_tokens": "x"}}):
        with pytest.raises(ProviderError) as caught:
            parse_message(broken, "m")
        assert caught.value.error_class is ErrorClass.MALFORMED


@pytest.mark.parametrize(
    ("status", "error", "expected"),
    [
        (429, {"type": "rate_limit_error", "message": "slow down"}, None),
        (429, {"type": "rate_limit_error", "message": "cap", "details": {"error_code": "enforced_spend_limit_reached"}},
         ErrorClass.QUOTA),
        (402, {"type": "billing_error", "message": "pay up"}, ErrorClass.QUOTA),
        (400, {"type": "invalid_request_error", "message": "Your credit balance is too low to access the API"},
         ErrorClass.QUOTA),
        (400, {"type": "invalid_request_error", "message": "messages: bad"}, None),
    ],
)  # fmt: skip
def test_describe_error(status: int, error: dict[str, object], expected: ErrorClass | None) -> None:
    message, error_class = describe_error(status, {"type": "error", "error": error}, "")
    assert message.startswith(f"{error['type']}: ") and error_class is expected
    assert describe_error(502, None, "Bad gateway") == ("Bad gateway", None)


def test_stream_state_folds_events() -> None:
    state = StreamState("requested")
    events = [
        ("message_start", {"type": "message_start", "message": {"model": "claude-x", "usage": {"input_tokens": 9}}}),
        ("ping", None),
        ("content_block_delta", {"type": "content_block_delta", "delta": {"type": "text_delta", "text": "Hel"}}),
        (
            "content_block_delta",
            {"type": "content_block_delta", "delta": {"type": "input_json_delta", "partial_json": "{"}},
        ),
        (
            "message_delta",
            {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 4}},
        ),
        ("message_delta", {"type": "message_delta", "delta": {}, "usage": {"output_tokens": 6}}),  # cumulative
        ("message_stop", {"type": "message_stop"}),
    ]
    chunks = [state.on_event(name, json.dumps(data) if data else "") for name, data in events]
    assert chunks[2] == CompletionChunk(text="Hel", model="claude-x")
    assert chunks[-1] == CompletionChunk(finish_reason="stop", input_tokens=9, output_tokens=6, model="claude-x")
    assert chunks.count(None) == 5 and state.done


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}, ErrorClass.SERVER),
        ({"type": "error", "error": {"type": "rate_limit_error", "message": "x"}}, ErrorClass.RATE_LIMITED),
    ],
)
def test_stream_error_event(data: dict[str, object], expected: ErrorClass) -> None:
    with pytest.raises(ProviderError) as caught:
        StreamState("m").on_event("error", json.dumps(data))
    assert caught.value.error_class is expected


@pytest.mark.parametrize("data", ["{nope", "[1]", '{"type": "message_delta", "usage": {"output_tokens": "many"}}'])
def test_stream_garbage_is_malformed(data: str) -> None:
    with pytest.raises(ProviderError) as caught:
        StreamState("m").on_event("message_delta", data)
    assert caught.value.error_class is ErrorClass.MALFORMED


# -- contract against the fake ---------------------------------------------------------------------------------------
server, state, http = loopback_fixtures(create_app)
make_call = partial(loopback.make_call, key=API_KEY)


async def collect(call: Call, request: CompletionRequest) -> list[CompletionChunk]:
    return [chunk async for chunk in provider.stream_completion(call, request)]


HELLO = ask(("system", "You are terse."), ("user", "Say hello please"))
HELLO_INPUT_TOKENS = 6  # the fake counts words of system + messages
REPLY_TOKENS = len(DEFAULT_REPLY.split())


async def test_complete_sends_documented_request(http, server, state) -> None:
    result = await provider.complete(make_call(http, server), HELLO)
    sent = state.requests[0]
    assert (sent.path, sent.headers["x-api-key"], sent.headers["anthropic-version"]) == (
        "/v1/messages", API_KEY, "2023-06-01",
    )  # fmt: skip
    assert json.loads(sent.body)["system"] == "You are terse."
    assert result.text == DEFAULT_REPLY
    assert (result.model, result.input_tokens, result.output_tokens, result.finish_reason) == (
        "claude-haiku-4-5", HELLO_INPUT_TOKENS, REPLY_TOKENS, "stop",
    )  # fmt: skip


async def test_max_tokens_is_honoured(http, server, state) -> None:
    result = await provider.complete(make_call(http, server), ask(("user", "Hi"), max_tokens=2))
    assert (result.text, result.output_tokens, result.finish_reason) == ("Hello! How", 2, "length")


async def test_stream_yields_text_then_usage(http, server, state) -> None:
    chunks = await collect(make_call(http, server), HELLO)
    assert "".join(c.text for c in chunks) == DEFAULT_REPLY
    assert json.loads(state.requests[0].body)["stream"] is True
    last = chunks[-1]
    assert (last.input_tokens, last.output_tokens, last.finish_reason, last.text) == (
        HELLO_INPUT_TOKENS,
        REPLY_TOKENS,
        "stop",
        "",
    )
    assert all(c.input_tokens is None for c in chunks[:-1])


async def test_stream_error_event_mid_stream(http, server, state) -> None:
    state.options["stream_error_after"] = 2
    received: list[CompletionChunk] = []
    with pytest.raises(ProviderError) as caught:
        async for chunk in provider.stream_completion(make_call(http, server), HELLO):
            received.append(chunk)
    assert caught.value.error_class is ErrorClass.SERVER and "overloaded" in caught.value.message
    assert [c.text for c in received] == ["Hello!", " How"]


@pytest.mark.parametrize("after", [1, 4, 9])  # before any text, mid-text, just before message_stop
async def test_stream_cut_is_connection_error(http, server, state, after: int) -> None:
    state.fail(Fault("cut", after_chunks=after))
    with pytest.raises(ProviderError) as caught:
        await collect(make_call(http, server), HELLO)
    assert caught.value.error_class is ErrorClass.CONNECTION


async def test_stream_malformed_event(http, server, state) -> None:
    state.fail(Fault("malformed"))
    with pytest.raises(ProviderError) as caught:
        await collect(make_call(http, server), HELLO)
    assert caught.value.error_class is ErrorClass.MALFORMED


async def test_slow_stream_within_timeout_completes_and_stall_times_out(http, server, state) -> None:
    state.fail(Fault("slow", delay=0.02))
    chunks = await collect(make_call(http, server), HELLO)
    assert chunks[-1].output_tokens == REPLY_TOKENS
    state.fail(Fault("slow", delay=0.5))  # headers after 0.5 s, then 0.5 s between events: over a 0.3 s deadline
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
        (401, ErrorClass.AUTH),
        (402, ErrorClass.QUOTA),
        (403, ErrorClass.AUTH),
        (404, ErrorClass.UNSUPPORTED),
        (413, ErrorClass.INVALID_INPUT),
        (500, ErrorClass.SERVER),
        (504, ErrorClass.SERVER),
        (529, ErrorClass.SERVER),
    ],
)
async def test_error_statuses(http, server, state, status: int, expected: ErrorClass) -> None:
    state.fail(Fault("status", status=status), Fault("status", status=status))
    call = make_call(http, server)
    for attempt in (provider.complete(call, HELLO), collect(call, HELLO)):
        with pytest.raises(ProviderError) as caught:
            await attempt
        assert (caught.value.error_class, caught.value.status, caught.value.retry_after) == (expected, status, None)
        assert caught.value.message.startswith(error_body(status, "")["error"]["type"])


async def test_429_with_and_without_retry_after(http, server, state) -> None:
    state.fail(Fault("status", status=429, retry_after="12"), Fault("status", status=429))
    call = make_call(http, server)
    for retry_after in (12.0, None):
        with pytest.raises(ProviderError) as caught:
            await provider.complete(call, HELLO)
        assert (caught.value.error_class, caught.value.retry_after) == (ErrorClass.RATE_LIMITED, retry_after)


async def test_spend_cap_429_is_quota(http, server, state) -> None:
    cap = error_body(429, "spend limit reached")
    cap["error"]["details"] = {"error_code": "enforced_spend_limit_reached"}
    state.fail(Fault("status", status=429, body=cap))
    with pytest.raises(ProviderError) as caught:
        await provider.complete(make_call(http, server), HELLO)
    assert (caught.value.error_class, caught.value.retryable) == (ErrorClass.QUOTA, False)


@pytest.mark.parametrize("key", [None, "wrong-key"])
async def test_bad_key_is_auth(http, server, state, key: str | None) -> None:
    with pytest.raises(ProviderError) as caught:
        await provider.complete(make_call(http, server, key=key), HELLO)
    assert (caught.value.error_class, caught.value.status) == (ErrorClass.AUTH, 401)
    assert "wrong-key" not in caught.value.message


async def test_unknown_model_is_unsupported(http, server, state) -> None:
    with pytest.raises(ProviderError) as caught:
        await provider.complete(make_call(http, server), ask(("user", "Hi"), model="claude-nonexistent"))
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
    assert state.requests[-1].path == "/v1/models"
    state.fail(Fault("malformed"))
    with pytest.raises(ProviderError) as caught:
        await provider.probe(make_call(http, server))
    assert caught.value.error_class is ErrorClass.MALFORMED


@pytest.mark.parametrize(("model", "per_in", "per_out"), [
    ("claude-haiku-4-5", "1", "5"), ("claude-sonnet-4-6", "3", "15"), ("claude-opus-4-7", "5", "25"),
])  # fmt: skip
async def test_cost_is_list_price_times_reported_tokens(http, server, state, model, per_in, per_out) -> None:
    result = await provider.complete(make_call(http, server), ask(("user", "one two three"), model=model))
    expected = per_million(per_in) * result.input_tokens + per_million(per_out) * result.output_tokens
    assert (
        result.input_tokens == 3
        and provider.completion_cost(result.model, result.input_tokens, result.output_tokens) == expected
    )

"""/llm/generate and /llm/generate-script in-process, against the OpenAI, Anthropic and Workers AI fakes on loopback:
routing by model, failover, streaming, billing from the vendor's reported tokens, and clear 4xx for bad input."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest

from tests.conftest import GatewayHarness, make_gateway, vendor_env
from tests.fakes import anthropic as anthropic_fake_app
from tests.fakes import workers_ai as workers_ai_fake_app
from tests.fakes.harness import FakeServer, FakeState, Fault

MARKUP = Decimal("1.2")  # the default 20 % markup
# List prices, USD per token (reference/providers.md): gpt-4o-mini, claude-haiku-4-5, llama-3.1-8b-instruct.
GPT_4O_MINI = (Decimal("0.15") / 1_000_000, Decimal("0.60") / 1_000_000)
CLAUDE_HAIKU = (Decimal("1.00") / 1_000_000, Decimal("5.00") / 1_000_000)
LLAMA_8B = (Decimal("0.282") / 1_000_000, Decimal("0.827") / 1_000_000)


@pytest.fixture(scope="module")
def anthropic_fake() -> Iterator[FakeServer]:
    state = FakeState()
    with FakeServer(anthropic_fake_app.create_app(state), state) as server:
        yield server


@pytest.fixture(scope="module")
def workers_ai_fake() -> Iterator[FakeServer]:
    state = FakeState()
    with FakeServer(workers_ai_fake_app.create_app(state), state) as server:
        yield server


def llm_env(openai: FakeServer, anthropic: FakeServer, workers_ai: FakeServer) -> dict[str, str]:
    return {
        **vendor_env(openai),
        "ANTHROPIC_API_KEY": anthropic_fake_app.API_KEY,
        "ANTHROPIC_BASE_URL": anthropic.url,
        "CLOUDFLARE_ACCOUNT_ID": "acct-test",
        "CLOUDFLARE_API_TOKEN": workers_ai_fake_app.API_KEY,
        "WORKERS_AI_BASE_URL": workers_ai.url,
    }


@pytest.fixture
async def llm(
    openai_fake: FakeServer, anthropic_fake: FakeServer, workers_ai_fake: FakeServer
) -> AsyncIterator[GatewayHarness]:
    """OpenAI, Anthropic and Workers AI configured for LLM (cost order: OpenAI, Workers AI, Anthropic)."""
    async for harness in make_gateway(llm_env(openai_fake, anthropic_fake, workers_ai_fake)):
        yield harness


@pytest.fixture(autouse=True)
def _reset_llm_fakes(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    for name in ("anthropic_fake", "workers_ai_fake"):
        if name in request.fixturenames:
            request.getfixturevalue(name).state.reset()


def micros(usd: Decimal) -> int:
    return int((usd * 1_000_000).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def expected_cost(prices: tuple[Decimal, Decimal], prompt_tokens: int, completion_tokens: int) -> Decimal:
    return prices[0] * prompt_tokens + prices[1] * completion_tokens


async def generate(gw: GatewayHarness, **body: Any):
    return await gw.client.post("/llm/generate", json=body, headers=gw.auth())


async def usage_rows(gw: GatewayHarness) -> list[dict]:
    await gw.settle()
    return await gw.db.all("SELECT * FROM usage_records ORDER BY created_at")


def sent_json(fake: FakeServer, index: int = -1) -> dict[str, Any]:
    return json.loads(fake.state.requests[index].body)


def words(count: int, word: str = "word") -> str:
    return " ".join([word] * count)


async def test_prompt_is_answered_and_billed_from_reported_tokens(llm: GatewayHarness, openai_fake: FakeServer) -> None:
    prompt = words(2000)
    openai_fake.state.options["reply"] = words(500, "ok")
    r = await generate(llm, prompt=prompt)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["text"] == words(500, "ok")
    assert (body["provider"], body["model"]) == ("openai", "gpt-4o-mini")  # cheapest listed: the cost strategy's pick
    # The fake counts one token per word, +3 per message, +3 for the reply priming.
    assert body["usage"] == {"prompt_tokens": 2006, "completion_tokens": 500, "total_tokens": 2506}
    assert body["requestId"] == r.headers["x-request-id"]
    assert sent_json(openai_fake)["messages"] == [{"role": "user", "content": prompt}]

    provider_cost = expected_cost(GPT_4O_MINI, 2006, 500)
    final_micros = micros(provider_cost * MARKUP)
    assert body["cost"] == final_micros / 1_000_000
    assert Decimal(r.headers["x-cost"]) == Decimal(final_micros) / 1_000_000
    assert (r.headers["x-provider"], r.headers["x-attempts"]) == ("openai", "1")

    rows = await usage_rows(llm)
    assert len(rows) == 1
    row = rows[0]
    assert (row["provider"], row["resource"], row["model"]) == ("openai", "llm", "gpt-4o-mini")
    assert (row["input_tokens"], row["output_tokens"]) == (2006, 500)
    assert row["request_id"] == body["requestId"] and row["api_key_id"] == llm.key_id
    assert row["provider_cost_micros"] == micros(provider_cost)
    assert row["final_cost_micros"] == final_micros


async def test_messages_with_a_system_prompt_reach_the_vendor(llm: GatewayHarness, openai_fake: FakeServer) -> None:
    messages = [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Name a colour."},
        {"role": "assistant", "content": "Blue."},
        {"role": "user", "content": "Another one."},
    ]
    r = await generate(llm, messages=messages, temperature=0.2, max_tokens=50)
    assert r.status_code == 200, r.text
    assert r.json()["text"] == "Echo: Another one."
    sent = sent_json(openai_fake)
    assert sent["messages"] == messages
    assert (sent["temperature"], sent["max_completion_tokens"]) == (0.2, 50)


async def test_a_vendor_model_is_routed_to_that_vendor(llm: GatewayHarness, anthropic_fake: FakeServer) -> None:
    anthropic_fake.state.options["reply"] = words(300, "claude")
    r = await generate(llm, prompt=words(1000), model="claude-haiku-4-5")
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["provider"], body["model"]) == ("anthropic", "claude-haiku-4-5")
    assert body["usage"]["prompt_tokens"] == 1000 and body["usage"]["completion_tokens"] == 300
    assert sent_json(anthropic_fake)["model"] == "claude-haiku-4-5"
    rows = await usage_rows(llm)
    assert rows[0]["final_cost_micros"] == micros(expected_cost(CLAUDE_HAIKU, 1000, 300) * MARKUP)


async def test_an_unknown_model_is_offered_to_the_vendors_as_is(llm: GatewayHarness, openai_fake: FakeServer) -> None:
    r = await generate(llm, prompt="hi", model="ft:gpt-4o-mini:acme:custom")
    assert r.status_code == 200, r.text
    assert sent_json(openai_fake)["model"] == "ft:gpt-4o-mini:acme:custom"
    # Nobody lists that model: it is billed at the vendor's default rate, with the reported model on the row.
    row = (await usage_rows(llm))[0]
    assert row["model"] == "ft:gpt-4o-mini:acme:custom"
    assert json.loads(row["unit_prices"]) == {"input_tokens": str(GPT_4O_MINI[0]), "output_tokens": str(GPT_4O_MINI[1])}


async def test_failover_to_the_next_llm_vendor(
    llm: GatewayHarness, openai_fake: FakeServer, workers_ai_fake: FakeServer
) -> None:
    openai_fake.state.always(Fault("status", status=503))
    r = await generate(llm, prompt="Tell me something")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["provider"] == "workers_ai" and body["text"] == workers_ai_fake_app.DEFAULT_COMPLETION
    assert r.headers["x-attempts"] == "2"
    assert "workers-ai/@cf/meta/llama-3.1-8b-instruct" in workers_ai_fake.state.requests[-1].path
    await llm.settle()
    logs = await llm.db.all("SELECT * FROM failover_logs")
    assert [(x["from_provider"], x["to_provider"], x["error_class"]) for x in logs] == [
        ("openai", "workers_ai", "server_error")
    ]
    rows = await usage_rows(llm)
    assert [r["provider"] for r in rows] == ["workers_ai"]
    usage = body["usage"]
    assert rows[0]["final_cost_micros"] == micros(
        expected_cost(LLAMA_8B, usage["prompt_tokens"], usage["completion_tokens"]) * MARKUP
    )


async def test_pinned_provider(llm: GatewayHarness) -> None:
    r = await generate(llm, prompt="hi", provider="anthropic")
    assert r.status_code == 200 and r.json()["provider"] == "anthropic"


async def test_every_llm_vendor_failing_is_502(
    llm: GatewayHarness, openai_fake: FakeServer, anthropic_fake: FakeServer, workers_ai_fake: FakeServer
) -> None:
    for fake in (openai_fake, anthropic_fake, workers_ai_fake):
        fake.state.always(Fault("status", status=500))
    r = await generate(llm, prompt="hi")
    assert r.status_code == 502
    assert [a["provider"] for a in r.json()["error"]["attempts"]] == ["openai", "workers_ai", "anthropic"]
    assert await usage_rows(llm) == []


BAD_GENERATE_BODIES = [
    ({}, 422, "exactly one"),
    ({"prompt": "a", "messages": [{"role": "user", "content": "b"}]}, 422, "exactly one"),
    ({"prompt": "   "}, 422, "prompt"),
    ({"prompt": 42}, 422, "prompt"),
    ({"prompt": "x" * 200_001}, 422, "prompt"),
    ({"messages": []}, 422, "messages"),
    ({"messages": [{"role": "tool", "content": "x"}]}, 422, "role"),
    ({"messages": [{"role": "system", "content": "only a system prompt"}]}, 422, "user"),
    ({"prompt": "a", "temperature": 2.5}, 422, "temperature"),
    ({"prompt": "a", "max_tokens": 0}, 422, "max_tokens"),
    ({"prompt": "a", "max_tokens": 32001}, 422, "max_tokens"),
    ({"prompt": "a", "provider": "nope"}, 400, "unknown provider"),
    ({"prompt": "a", "provider": "openai", "model": "claude-haiku-4-5"}, 400, "not offered by 'openai'"),
]


@pytest.mark.parametrize("body, status, says", BAD_GENERATE_BODIES)
async def test_bad_generate_input_is_a_clear_4xx(
    llm: GatewayHarness, openai_fake: FakeServer, body: dict, status: int, says: str
) -> None:
    r = await llm.client.post("/llm/generate", json=body, headers=llm.auth())
    assert r.status_code == status, r.text
    assert r.json()["error"]["type"] == "invalid_request"
    assert says in r.json()["error"]["message"]
    assert openai_fake.state.requests == []  # refused before any vendor was called


async def test_a_model_no_configured_vendor_offers_is_404(llm: GatewayHarness) -> None:
    from providers import get_provider

    gemini_model = get_provider("gemini").default_llm_model  # Gemini is not configured in this workspace
    r = await generate(llm, prompt="hi", model=gemini_model)
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "model_not_found" and "gemini" in r.json()["error"]["message"]


async def test_generate_needs_a_workspace_key(llm: GatewayHarness) -> None:
    r = await llm.client.post("/llm/generate", json={"prompt": "hi"})
    assert r.status_code == 401
    r = await llm.client.post("/llm/generate", json={"prompt": "hi"}, headers=llm.admin)
    assert r.status_code == 403


# -- streaming -----------------------------------------------------------------------------------------------------
def sse_events(raw: str) -> list[dict[str, Any]]:
    return [json.loads(line[6:]) for line in raw.splitlines() if line.startswith("data: ")]


async def test_generate_streams_deltas_then_usage_and_cost(llm: GatewayHarness, openai_fake: FakeServer) -> None:
    openai_fake.state.options["reply"] = "one two three four"
    r = await generate(llm, prompt=words(100), stream=True)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/event-stream")
    assert (r.headers["x-provider"], r.headers["x-attempts"]) == ("openai", "1")
    events = sse_events(r.text)
    deltas = [e["text"] for e in events if e["type"] == "delta"]
    assert "".join(deltas) == "one two three four" and len(deltas) == 4
    done = events[-1]
    assert done["type"] == "done" and done["provider"] == "openai" and done["finish_reason"] == "stop"
    assert done["usage"] == {"prompt_tokens": 106, "completion_tokens": 4, "total_tokens": 110}
    final_micros = micros(expected_cost(GPT_4O_MINI, 106, 4) * MARKUP)
    assert done["cost"] == final_micros / 1_000_000
    rows = await usage_rows(llm)
    assert [(x["input_tokens"], x["output_tokens"], x["final_cost_micros"]) for x in rows] == [(106, 4, final_micros)]


async def test_stream_fails_over_before_the_first_chunk(
    llm: GatewayHarness, openai_fake: FakeServer, workers_ai_fake: FakeServer
) -> None:
    openai_fake.state.always(Fault("status", status=429))
    r = await generate(llm, prompt="hello", stream=True)
    assert r.status_code == 200, r.text
    assert (r.headers["x-provider"], r.headers["x-attempts"]) == ("workers_ai", "2")
    events = sse_events(r.text)
    assert "".join(e["text"] for e in events if e["type"] == "delta") == workers_ai_fake_app.DEFAULT_COMPLETION
    assert events[-1]["type"] == "done" and events[-1]["usage"]["completion_tokens"] > 0
    assert [x["provider"] for x in await usage_rows(llm)] == ["workers_ai"]


async def test_a_vendor_failing_mid_stream_ends_it_with_an_error_event(
    llm: GatewayHarness, openai_fake: FakeServer
) -> None:
    openai_fake.state.options.update(reply="a b c d e f", stream_error_after=2)
    r = await generate(llm, prompt="hello", stream=True)
    assert r.status_code == 200
    events = sse_events(r.text)
    assert [e["text"] for e in events if e["type"] == "delta"] == ["a", " b"]
    assert events[-1]["type"] == "error" and events[-1]["error"]["type"] == "upstream_error"
    assert events[-1]["error"]["attempts"][0]["provider"] == "openai"
    assert not any(e["type"] == "done" for e in events)


# -- /llm/generate-script ------------------------------------------------------------------------------------------
SCRIPT = {
    "title": "Tides",
    "sections": [
        {"heading": "The Moon", "narration": "The Moon pulls the oceans toward it.", "duration_seconds": 60},
        {"heading": "Two bulges", "narration": "There is a bulge on each side of Earth.", "duration_seconds": 60},
    ],
    "summary": "Gravity makes tides.",
}
DOCUMENT = "Tides are caused mainly by the gravitational pull of the Moon on Earth's oceans."


async def generate_script(gw: GatewayHarness, **extra: Any):
    body = {"document_content": DOCUMENT, "topic": "Tides", "difficulty_level": "beginner",
            "target_duration_minutes": 2, "language": "en", **extra}  # fmt: skip
    return await gw.client.post("/llm/generate-script", json=body, headers=gw.auth())


async def test_script_json_answer(llm: GatewayHarness, openai_fake: FakeServer) -> None:
    openai_fake.state.options["reply"] = json.dumps(SCRIPT)
    r = await generate_script(llm)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["script"] == SCRIPT
    assert body["provider"] == "openai" and body["requestId"] == r.headers["x-request-id"]
    sent = sent_json(openai_fake)
    system, user = sent["messages"]
    assert system["role"] == "system" and user["role"] == "user"
    assert DOCUMENT in user["content"] and "300 words" in user["content"]  # 2 minutes at 150 words a minute
    rows = await usage_rows(llm)
    usage = body["usage"]
    assert rows[0]["resource"] == "llm"
    assert rows[0]["final_cost_micros"] == micros(
        expected_cost(GPT_4O_MINI, usage["prompt_tokens"], usage["completion_tokens"]) * MARKUP
    )
    assert body["cost"] == rows[0]["final_cost_micros"] / 1_000_000


async def test_script_fenced_json_answer(llm: GatewayHarness, openai_fake: FakeServer) -> None:
    openai_fake.state.options["reply"] = f"Here is the lesson:\n```json\n{json.dumps(SCRIPT, indent=2)}\n```"
    r = await generate_script(llm)
    assert r.status_code == 200, r.text
    assert r.json()["script"] == SCRIPT


async def test_script_non_json_answer_falls_back(llm: GatewayHarness, openai_fake: FakeServer) -> None:
    narration = words(150, "tide")  # 150 words = one minute at 150 wpm
    openai_fake.state.options["reply"] = narration
    r = await generate_script(llm)
    assert r.status_code == 200, r.text
    assert r.json()["script"] == {
        "title": "Tides",
        "sections": [{"heading": "Tides", "narration": narration, "duration_seconds": 60}],
        "summary": "",
        "parse_fallback": True,
    }


async def test_script_fails_over(llm: GatewayHarness, openai_fake: FakeServer, workers_ai_fake: FakeServer) -> None:
    openai_fake.state.always(Fault("hang"))
    workers_ai_fake.state.options["completion"] = json.dumps(SCRIPT)
    r = await generate_script(llm)
    assert r.status_code == 200, r.text
    assert r.json()["provider"] == "workers_ai" and r.json()["script"] == SCRIPT


@pytest.mark.parametrize(
    "extra, says",
    [
        ({"document_content": ""}, "document_content"),
        ({"document_content": "x" * 100_001}, "document_content"),
        ({"difficulty_level": "expert"}, "difficulty_level"),
        ({"target_duration_minutes": 0}, "target_duration_minutes"),
        ({"target_duration_minutes": 121}, "target_duration_minutes"),
        ({"workspaceId": "ws_someone_else"}, "workspaceId"),
    ],
)
async def test_bad_script_input(llm: GatewayHarness, openai_fake: FakeServer, extra: dict, says: str) -> None:
    r = await generate_script(llm, **extra)
    assert r.status_code in (403, 422), r.text
    assert says in r.json()["error"]["message"]
    assert openai_fake.state.requests == []

"""Budget admission reserves each request's own estimate — its cheapest vendor's, raised to the next vendor's on
failover — instead of a flat guess: concurrent requests fill the budget exactly, sequential ones stop at its edge,
and failing over to a dearer vendor never spends past it."""

from __future__ import annotations

import asyncio
import math

import httpx

from tests.conftest import GatewayHarness
from tests.fakes.harness import FakeServer, Fault
from tests.gateway.limits.test_limits_api import set_limits

TEXT = "A sentence of roughly eighty characters that costs a little over a tenth of a cent."  # issue 11's case


async def synthesize(gw: GatewayHarness, provider: str | None = None) -> httpx.Response:
    body = {"text": TEXT, **({"provider": provider} if provider else {})}
    return await gw.client.post("/voice/synthesize", json=body, headers=gw.auth())


async def price_of(gw: GatewayHarness, provider: str) -> float:
    """What one request costs at ``provider`` (measured before any budget is set)."""
    r = await synthesize(gw, provider)
    assert r.status_code == 200, r.text
    return float(r.headers["x-cost"])


async def test_concurrent_requests_fill_the_budget(gw: GatewayHarness) -> None:
    await set_limits(gw, requestsPerMinute=10_000)
    cost = await price_of(gw, "openai")
    await gw.settle()
    spent_before = (await gw.client.get("/usage", headers=gw.auth())).json()["totals"]["finalCost"]
    budget = round(spent_before + 0.02, 6)
    await set_limits(gw, monthlyBudgetUsd=budget, requestsPerMinute=10_000)
    responses = await asyncio.gather(*(synthesize(gw, "openai") for _ in range(100)))
    admitted = [r for r in responses if r.status_code == 200]
    fit = math.floor(round(0.02 / cost, 9))
    assert len(admitted) == fit, f"{len(admitted)} of 100 admitted, {fit} fit in $0.02 at ${cost} each"
    assert all(r.json()["error"]["type"] == "quota_exceeded" for r in responses if r.status_code != 200)
    # Then one at a time until refused: the budget is never passed.
    while (r := await synthesize(gw, "openai")).status_code == 200:
        pass
    assert r.status_code == 429
    await gw.settle()
    spent = (await gw.client.get("/usage", headers=gw.auth())).json()["totals"]["finalCost"]
    assert budget - cost < spent <= budget + 1e-9, (spent, budget)


async def test_failing_over_to_a_dearer_vendor_must_fit_the_budget(
    gw: GatewayHarness, openai_fake: FakeServer, deepgram_fake: FakeServer
) -> None:
    await set_limits(gw, requestsPerMinute=10_000)
    cheap, dear = sorted([("openai", await price_of(gw, "openai")), ("deepgram", await price_of(gw, "deepgram"))],
                         key=lambda p: p[1])  # fmt: skip
    assert cheap[1] < dear[1]
    await gw.settle()
    spent = (await gw.client.get("/usage", headers=gw.auth())).json()["totals"]["finalCost"]
    cheap_fake = openai_fake if cheap[0] == "openai" else deepgram_fake
    dear_fake = deepgram_fake if cheap is not dear and dear[0] == "deepgram" else openai_fake
    r = await gw.client.put(f"/admin/workspaces/{gw.workspace_id}/strategy", json={"strategy": "cost"},
                            headers=gw.admin)  # fmt: skip
    assert r.status_code == 200

    # Room for the cheap vendor only: when it fails, the dear one is not tried.
    await set_limits(gw, monthlyBudgetUsd=round(spent + (cheap[1] + dear[1]) / 2, 6), requestsPerMinute=10_000)
    cheap_fake.state.fail(Fault("status", status=503))
    dear_calls = len(dear_fake.state.requests)
    r = await synthesize(gw)
    assert r.status_code == 429 and r.json()["error"]["type"] == "quota_exceeded", r.text
    assert len(dear_fake.state.requests) == dear_calls, "the dearer vendor was called past the budget"

    # Room for the dear one too: the same failure is served by it, within the budget.
    await set_limits(gw, monthlyBudgetUsd=round(spent + dear[1] + 0.000001, 6), requestsPerMinute=10_000)
    cheap_fake.state.fail(Fault("status", status=503))
    r = await synthesize(gw)
    assert r.status_code == 200 and r.headers["x-provider"] == dear[0], r.text
    await gw.settle()
    total = (await gw.client.get("/usage", headers=gw.auth())).json()["totals"]["finalCost"]
    assert total <= spent + dear[1] + 0.000001 + 1e-9

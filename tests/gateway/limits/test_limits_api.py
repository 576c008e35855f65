"""Limits through the HTTP API, in-process, with the OpenAI fake as a real loopback server behind."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from gateway.app import create_app
from tests.conftest import GatewayHarness, vendor_env
from tests.fakes.harness import FakeServer
from tests.gateway.limits.fakes import FakeClock, LimiterStub, MemoryStorage
from tests.gateway.limits.harness import gateway_at

TEXT_200 = "Budget words. " * 14 + "Done now."  # ~200 characters: a few tenths of a cent on tts-1


async def set_limits(gw: GatewayHarness, **limits: Any) -> None:
    r = await gw.client.patch(f"/admin/workspaces/{gw.workspace_id}", json={"limits": limits}, headers=gw.admin)
    assert r.status_code == 200, r.text


async def synthesize(gw: GatewayHarness, text: str = "hello there") -> httpx.Response:
    return await gw.client.post("/voice/synthesize", json={"text": text}, headers=gw.auth())


async def test_100_simultaneous_requests_against_a_limit_of_10_admit_exactly_10(gw: GatewayHarness) -> None:
    await set_limits(gw, requestsPerMinute=10)
    responses = await asyncio.gather(*(synthesize(gw) for _ in range(100)))
    statuses = [r.status_code for r in responses]
    assert statuses.count(200) == 10 and statuses.count(429) == 90
    refused = next(r for r in responses if r.status_code == 429)
    error = refused.json()["error"]
    assert error["type"] == "rate_limited" and error["request_id"] == refused.headers["x-request-id"]
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    await gw.settle()
    report = (await gw.client.get("/usage", headers=gw.auth())).json()
    assert report["totals"]["requests"] == 10  # exactly the admitted ones were billed


async def test_rate_limits_count_per_key_and_workspace(gw: GatewayHarness) -> None:
    await set_limits(gw, requestsPerMinute=3)
    r = await gw.client.post(f"/admin/workspaces/{gw.workspace_id}/keys", headers=gw.admin)
    other_key = r.json()["key"]
    assert (await synthesize(gw)).status_code == 200
    assert (await synthesize(gw)).status_code == 200
    r = await gw.client.post("/voice/synthesize", json={"text": "hi"}, headers=gw.auth(other_key))
    assert r.status_code == 200
    r = await gw.client.post("/voice/synthesize", json={"text": "hi"}, headers=gw.auth(other_key))
    assert r.status_code == 429  # the workspace's three are used, whichever key used them


async def test_a_budget_of_one_cent_stops_spending_within_one_requests_cost(gw: GatewayHarness) -> None:
    await set_limits(gw, monthlyBudgetUsd=0.01, requestsPerMinute=1000)
    costs: list[float] = []
    for _ in range(20):
        r = await synthesize(gw, TEXT_200)
        if r.status_code != 200:
            break
        costs.append(float(r.headers["x-cost"]))
    assert r.status_code == 429 and r.json()["error"]["type"] == "quota_exceeded"
    assert int(r.headers["retry-after"]) >= 1
    one_request = max(costs)
    spent = sum(costs)
    # Each request reserves its own estimate (exact for per-character prices): spending fills the budget up to
    # less than one request from the top and never passes it.
    assert 0.01 - one_request < spent <= 0.01 and len(costs) >= 2
    await gw.settle()
    billed = (await gw.client.get("/usage", headers=gw.auth())).json()["totals"]["finalCost"]
    assert abs(billed - spent) < 1e-6
    # Simultaneous requests cannot overspend either: the budget is used up, nobody gets in.
    responses = await asyncio.gather(*(synthesize(gw, TEXT_200) for _ in range(20)))
    assert {r.status_code for r in responses} == {429}


async def test_simultaneous_requests_cannot_overspend_a_fresh_budget(gw: GatewayHarness) -> None:
    await set_limits(gw, monthlyBudgetUsd=0.01, requestsPerMinute=1000)
    responses = await asyncio.gather(*(synthesize(gw, TEXT_200) for _ in range(30)))
    costs = [float(r.headers["x-cost"]) for r in responses if r.status_code == 200]
    assert costs and sum(costs) < 0.01 + max(costs)
    assert all(r.json()["error"]["type"] == "quota_exceeded" for r in responses if r.status_code != 200)


async def test_reservations_and_stream_slots_are_released_when_responses_end(gw: GatewayHarness) -> None:
    await set_limits(gw, concurrentStreams=1, monthlyBudgetUsd=5, requestsPerMinute=1000)
    for _ in range(3):  # one slot: each stream must have given it back when its body ended
        r = await gw.client.post("/voice/stream", json={"text": "One. Two."}, headers=gw.auth())
        assert r.status_code == 200, r.text
    r = await gw.client.post("/voice/synthesize", json={"text": "x" * 6000}, headers=gw.auth())
    assert r.status_code == 422  # refused after admission: released all the same
    await synthesize(gw)
    ledger = gw.gateway.limits._ledgers[gw.workspace_id]
    assert (ledger.streams, ledger.reserved_micros, ledger.leases) == (0, 0, {})
    assert ledger.spent_micros > 0


async def test_reads_are_not_admitted_and_the_admin_token_cannot_spend(gw: GatewayHarness) -> None:
    await set_limits(gw, requestsPerMinute=1)
    for _ in range(3):
        assert (await gw.client.get("/usage", headers=gw.auth())).status_code == 200
    r = await gw.client.post("/voice/synthesize", json={"text": "hi"}, headers=gw.admin)
    assert r.status_code == 403


async def test_on_workers_the_limiter_object_is_the_authority_through_leases(openai_fake: FakeServer) -> None:
    """The Workers wiring (``extras["limiter_stubs"]``) through the HTTP API: two app instances stand for two
    isolates sharing one WorkspaceLimiter object per workspace; together they admit exactly the limit."""
    from gateway.limits.leasing import LeasingLimits
    from gateway.limits.limiter import WorkspaceLimiter
    from gateway.limits.wiring import LIMITER_STUBS

    clock = FakeClock()
    objects: dict[str, LimiterStub] = {}

    def stub_for(workspace_id: str) -> LimiterStub:
        if workspace_id not in objects:
            objects[workspace_id] = LimiterStub(WorkspaceLimiter(MemoryStorage(), clock))
        return objects[workspace_id]

    extras = {LIMITER_STUBS: stub_for}
    async for first, _ in gateway_at(clock, vendor_env(openai_fake), extras=extras):
        assert isinstance(first.gateway.limits, LeasingLimits)
        assert first.gateway.auth.cache_seconds == 5.0  # revocations reach other isolates within 5 s
        await set_limits(first, requestsPerMinute=10)
        second_app = create_app(first.gateway.runtime)  # another isolate: own caches, own leases
        transport = httpx.ASGITransport(app=second_app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as second:
            calls = [synthesize(first) for _ in range(50)]
            calls += [second.post("/voice/synthesize", json={"text": "hi"}, headers=first.auth()) for _ in range(50)]
            responses = await asyncio.gather(*calls)
        statuses = [r.status_code for r in responses]
        assert statuses.count(200) == 10 and statuses.count(429) == 90
        stub = objects[first.workspace_id]
        assert stub.acquires < 20  # leases, not a round trip per request

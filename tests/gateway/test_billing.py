"""Usage and billing: exactly one row per billed request under concurrency, one current billing period, monthly
rollover across a month boundary (fake clock), and budgets that follow the month."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.conftest import GatewayHarness, vendor_env
from tests.fakes.harness import FakeServer
from tests.gateway.limits.fakes import FakeClock
from tests.gateway.limits.harness import gateway_at

JAN_31_LATE = 1_769_903_998.0  # 2026-01-31T23:59:58Z


@pytest.fixture
async def gw_inproc() -> AsyncIterator[GatewayHarness]:
    """The gateway with the OpenAI fake served in-process too (ASGI transport: no thread, no socket), so a thousand
    requests take about a second; the fake still speaks the real wire format."""
    from tests.fakes import openai as openai_fake
    from tests.fakes.harness import FakeState

    fake = httpx.AsyncClient(transport=httpx.ASGITransport(app=openai_fake.create_app(FakeState())))
    env = {"OPENAI_API_KEY": "test-openai-key", "OPENAI_BASE_URL": "http://openai.fake/v1"}
    async for harness, _ in gateway_at(None, env, http=fake):
        yield harness


async def test_1000_concurrent_successful_requests_leave_1000_rows_and_one_current_period(
    gw_inproc: GatewayHarness,
) -> None:
    gw = gw_inproc
    r = await gw.client.patch(
        f"/admin/workspaces/{gw.workspace_id}",
        json={"limits": {"requestsPerMinute": 100_000, "requestsPerHour": 1_000_000}},
        headers=gw.admin,
    )
    assert r.status_code == 200
    gate = asyncio.Semaphore(50)  # 50 in flight at any moment, 1,000 in all

    async def one(n: int) -> httpx.Response:
        async with gate:
            return await gw.client.post("/voice/synthesize", json={"text": f"request {n}"}, headers=gw.auth())

    responses = await asyncio.gather(*(one(n) for n in range(1000)))
    assert [r.status_code for r in responses].count(200) == 1000
    await gw.settle()
    rows = await gw.db.all(
        "SELECT request_id, final_cost_micros FROM usage_records WHERE workspace_id = ?", gw.workspace_id
    )
    assert len(rows) == 1000 and len({r["request_id"] for r in rows}) == 1000
    assert {r["request_id"] for r in rows} == {r.headers["x-request-id"] for r in responses}
    periods = await gw.db.all("SELECT period, status FROM billing_periods WHERE workspace_id = ?", gw.workspace_id)
    assert [p["status"] for p in periods] == ["current"]
    billed = sum(int(round(float(r.headers["x-cost"]) * 1_000_000)) for r in responses)
    assert billed == sum(r["final_cost_micros"] for r in rows)  # integer micro-dollars: nothing drifts
    report = (await gw.client.get("/usage", headers=gw.auth())).json()
    assert report["totals"]["requests"] == 1000
    ledger = gw.gateway.limits._ledgers[gw.workspace_id]
    assert ledger.spent_micros == billed and ledger.reserved_micros == 0


@pytest.fixture
async def late_in_january(openai_fake: FakeServer) -> AsyncIterator[tuple[GatewayHarness, FakeClock]]:
    clock = FakeClock(JAN_31_LATE)
    async for harness, _ in gateway_at(clock, vendor_env(openai_fake)):
        yield harness, clock


async def test_billing_periods_roll_over_at_the_month_boundary(
    late_in_january: tuple[GatewayHarness, FakeClock],
) -> None:
    gw, clock = late_in_january
    first = await asyncio.gather(
        *(gw.client.post("/voice/synthesize", json={"text": "end of January"}, headers=gw.auth()) for _ in range(2))
    )
    assert [r.status_code for r in first] == [200, 200]
    await gw.settle()
    clock.advance(4)  # 2026-02-01T00:00:02Z
    second = await gw.client.post("/voice/synthesize", json={"text": "start of February"}, headers=gw.auth())
    assert second.status_code == 200
    await gw.settle()
    periods = await gw.db.all(
        "SELECT period, status FROM billing_periods WHERE workspace_id = ? ORDER BY period", gw.workspace_id
    )
    assert periods == [{"period": "2026-01", "status": "closed"}, {"period": "2026-02", "status": "current"}]
    january = (await gw.client.get("/usage?period=2026-01", headers=gw.auth())).json()
    february = (await gw.client.get("/usage", headers=gw.auth())).json()
    assert january["totals"]["requests"] == 2 and february["totals"]["requests"] == 1
    assert february["period"]["name"] == "2026-02"


async def test_a_budget_used_up_in_january_is_fresh_in_february(
    late_in_january: tuple[GatewayHarness, FakeClock],
) -> None:
    gw, clock = late_in_january
    r = await gw.client.patch(
        f"/admin/workspaces/{gw.workspace_id}", json={"limits": {"monthlyBudgetUsd": 0.0001}}, headers=gw.admin
    )
    assert r.status_code == 200
    # $0.000072 of $0.0001; the next request's estimate ($0.000036) no longer fits.
    assert (await gw.client.post("/voice/synthesize", json={"text": "abcd"}, headers=gw.auth())).status_code == 200
    refused = await gw.client.post("/voice/synthesize", json={"text": "hi"}, headers=gw.auth())
    assert refused.status_code == 429 and refused.json()["error"]["type"] == "quota_exceeded"
    assert 1 <= int(refused.headers["retry-after"]) <= 3  # the month ends in two seconds
    clock.advance(4)
    assert (await gw.client.post("/voice/synthesize", json={"text": "hi"}, headers=gw.auth())).status_code == 200


async def test_month_to_date_spend_is_loaded_from_usage_records(
    late_in_january: tuple[GatewayHarness, FakeClock],
) -> None:
    """A fresh process (another isolate) starts from what is already billed this month."""
    gw, _ = late_in_january
    assert (await gw.client.post("/voice/synthesize", json={"text": "x" * 300}, headers=gw.auth())).status_code == 200
    await gw.settle()
    from gateway.limits.local import InProcessLimits

    gw.gateway.limits = fresh = InProcessLimits(gw.gateway.usage, gw.gateway.runtime.clock)
    gw.gateway.recorder.on_usage[:] = [fresh.charge]
    spent_row = await gw.db.first("SELECT SUM(final_cost_micros) AS s FROM usage_records")
    budget_usd = spent_row["s"] / 1_000_000
    r = await gw.client.patch(
        f"/admin/workspaces/{gw.workspace_id}", json={"limits": {"monthlyBudgetUsd": budget_usd}}, headers=gw.admin
    )
    assert r.status_code == 200
    refused = await gw.client.post("/voice/synthesize", json={"text": "hi"}, headers=gw.auth())
    assert refused.status_code == 429 and refused.json()["error"]["type"] == "quota_exceeded"

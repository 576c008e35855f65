"""Voice-agent calls end to end against the Vapi and Retell fakes (real loopback servers): creation with failover,
webhooks (forged, duplicated, retried), billing with markup, reconciliation, limits and health."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import GatewayHarness, _fake, make_gateway
from tests.fakes import retell, vapi
from tests.fakes.harness import FakeServer, Fault

AGENT = {"vendors": {"vapi": {"assistantId": "asst_support", "phoneNumberId": "pn_main"},
                     "retell": {"agentId": "agent_support", "fromNumber": "+14155550100"}}}  # fmt: skip


@pytest.fixture(scope="module")
def vapi_fake() -> Iterator[FakeServer]:
    yield from _fake("vapi")


@pytest.fixture(scope="module")
def retell_fake() -> Iterator[FakeServer]:
    yield from _fake("retell")


def call_env(vapi_server: FakeServer, retell_server: FakeServer) -> dict[str, str]:
    return {
        "VAPI_API_KEY": vapi.API_KEY, "VAPI_BASE_URL": vapi_server.url, "VAPI_WEBHOOK_SECRET": vapi.WEBHOOK_SECRET,
        "RETELL_API_KEY": retell.API_KEY, "RETELL_BASE_URL": retell_server.url, "CALL_RECONCILE_SECONDS": "0",
    }  # fmt: skip


@pytest.fixture
async def gw(vapi_fake: FakeServer, retell_fake: FakeServer) -> AsyncIterator[GatewayHarness]:
    vapi_fake.state.reset()
    retell_fake.state.reset()
    async for harness in make_gateway(call_env(vapi_fake, retell_fake)):
        r = await harness.client.put(f"/admin/workspaces/{harness.workspace_id}/agents/support", json=AGENT,
                                     headers=harness.admin)  # fmt: skip
        assert r.status_code == 200, r.text
        r = await harness.client.patch(f"/admin/workspaces/{harness.workspace_id}", json={"markupPercentage": 25},
                                       headers=harness.admin)  # fmt: skip
        assert r.status_code == 200, r.text
        yield harness


async def create(gw: GatewayHarness, **body: Any) -> httpx.Response:
    return await gw.client.post("/voice/calls", json={"agent": "support", **body}, headers=gw.auth())


async def usage_rows(gw: GatewayHarness, call_id: str) -> list[dict[str, Any]]:
    return await gw.db.all("SELECT * FROM usage_records WHERE request_id = ?", call_id)


async def call_row(gw: GatewayHarness, call_id: str) -> dict[str, Any]:
    row = await gw.db.first("SELECT * FROM agent_calls WHERE id = ?", call_id)
    assert row is not None
    return row


async def test_vapi_503_fails_over_to_retell_with_two_attempts_and_a_failover_row(
    gw: GatewayHarness, vapi_fake: FakeServer, retell_fake: FakeServer
) -> None:
    vapi_fake.state.fail(Fault("status", status=503))
    r = await create(gw, type="phone", to="+14155550123", metadata={"ticket": "T-1"})
    assert r.status_code == 201, r.text
    assert r.headers["X-Attempts"] == "2" and r.headers["X-Provider"] == "retell"
    body = r.json()
    assert body["provider"] == "retell" and body["status"] == "queued" and body["id"].startswith("call_")
    assert body["vendorCallId"] in retell.calls_of(retell_fake.state)
    sent = json.loads(retell_fake.state.requests[-1].body)
    assert sent == {"from_number": "+14155550100", "to_number": "+14155550123", "override_agent_id": "agent_support",
                    "metadata": {"ticket": "T-1"}}  # fmt: skip
    assert vapi_fake.state.requests[-1].path == "/call"  # Vapi was asked first (cheaper per minute)
    await gw.settle()
    failovers = await gw.db.all("SELECT * FROM failover_logs WHERE workspace_id = ?", gw.workspace_id)
    assert [(f["from_provider"], f["to_provider"], f["error_class"], f["result"]) for f in failovers] == [
        ("vapi", "retell", "server_error", "switched")
    ]


async def test_web_calls_answer_what_a_browser_needs_to_join(
    gw: GatewayHarness, vapi_fake: FakeServer, retell_fake: FakeServer
) -> None:
    r = await create(gw, type="web")
    assert r.status_code == 201, r.text
    assert r.json()["provider"] == "vapi" and r.json()["join"]["webCallUrl"].startswith("https://fake.daily.co/")
    assert json.loads(vapi_fake.state.requests[-1].body) == {"assistantId": "asst_support"}
    r = await create(gw, type="web", provider="retell")
    assert r.status_code == 201, r.text
    join = r.json()["join"]
    assert join["accessToken"].startswith("eyJ") and join["callId"] == r.json()["vendorCallId"]
    # the token is handed over once and never stored or shown again
    listed = await gw.client.get(f"/voice/calls/{r.json()['id']}", headers=gw.auth())
    assert "join" not in listed.json() and join["accessToken"] not in listed.text


async def test_retell_end_webhook_bills_once_with_markup_even_when_duplicated(
    gw: GatewayHarness, retell_fake: FakeServer
) -> None:
    created = (await create(gw, type="phone", to="+14155550123", provider="retell")).json()
    vendor_id = created["vendorCallId"]
    started = await retell.send(gw.client, "call_started", retell.start(retell_fake.state, vendor_id))
    assert started.statuses == [200]
    assert (await call_row(gw, created["id"]))["status"] == "in_progress"

    ended = retell.finish(retell_fake.state, vendor_id, seconds=90, cost_cents=12.5)
    delivery = await retell.send(gw.client, "call_ended", ended, duplicates=2)
    assert delivery.statuses == [200, 200, 200]
    rows = await usage_rows(gw, created["id"])
    assert len(rows) == 1
    row = rows[0]
    assert (row["resource"], row["provider"], row["model"], row["minutes"]) == ("call", "retell", "support", 1.5)
    assert row["provider_cost_micros"] == 125_000  # 12.5 cents, Retell's own figure
    assert row["markup_percentage"] == 25.0 and row["final_cost_micros"] == 156_250
    assert json.loads(row["unit_prices"]) == {"minutes": "0.083333"}
    before = await call_row(gw, created["id"])
    assert before["status"] == "ended" and before["duration_seconds"] == 90 and before["billed_at"] is not None

    # a late call_analyzed (or any redelivery) changes nothing once billed
    analyzed = await retell.send(gw.client, "call_analyzed", {**ended, "duration_ms": 95_000})
    assert analyzed.statuses == [200]
    assert await call_row(gw, created["id"]) == before
    assert len(await usage_rows(gw, created["id"])) == 1
    shown = (await gw.client.get(f"/voice/calls/{created['id']}", headers=gw.auth())).json()
    assert shown["cost"] == 0.15625 and shown["minutes"] == 1.5 and shown["billed"] is True
    assert shown["recordingUrl"].endswith(".wav") and shown["transcriptUrl"].endswith(".txt")


async def test_vapi_end_of_call_report_bills_the_reported_cost(gw: GatewayHarness, vapi_fake: FakeServer) -> None:
    created = (await create(gw, type="phone", to="+14155550123")).json()
    assert created["provider"] == "vapi"
    vendor_id = created["vendorCallId"]
    for status, auth in (("ringing", "signature"), ("in-progress", "hmac")):  # each way a Vapi server authenticates
        delivery = await vapi.send(gw.client, vapi.status_update(vapi.advance(vapi_fake.state, vendor_id, status)),
                                   auth=auth)  # fmt: skip
        assert delivery.statuses == [200]
    assert (await call_row(gw, created["id"]))["status"] == "in_progress"
    call = vapi.finish(vapi_fake.state, vendor_id, seconds=120, cost=0.2)
    assert (await vapi.send(gw.client, vapi.end_of_call_report(call), duplicates=1)).statuses == [200, 200]
    (row,) = await usage_rows(gw, created["id"])
    assert (row["provider"], row["provider_cost_micros"], row["final_cost_micros"], row["minutes"]) == (
        "vapi",
        200_000,
        250_000,
        2.0,
    )
    # a status-update that arrives late cannot move an ended call backwards
    late = await vapi.send(gw.client, vapi.status_update({**call, "status": "in-progress"}))
    assert late.statuses == [200] and (await call_row(gw, created["id"]))["status"] == "ended"


@pytest.mark.parametrize("vendor", ["vapi", "retell"])
async def test_forged_webhooks_get_401_and_change_nothing(
    gw: GatewayHarness, vapi_fake: FakeServer, retell_fake: FakeServer, vendor: str
) -> None:
    created = (await create(gw, type="phone", to="+14155550123", provider=vendor)).json()
    vendor_id = created["vendorCallId"]
    before = await call_row(gw, created["id"])
    if vendor == "vapi":
        call = vapi.finish(vapi_fake.state, vendor_id, seconds=60, cost=9.99)
        forged = [await vapi.send(gw.client, vapi.end_of_call_report(call), secret="guessed", auth=auth, retries=1)
                  for auth in ("secret", "signature", "hmac")]  # fmt: skip
        raw = json.dumps(vapi.end_of_call_report(call)).encode()
    else:
        call = retell.finish(retell_fake.state, vendor_id, seconds=60, cost_cents=999)
        forged = [
            await retell.send(gw.client, "call_ended", call, api_key="not-the-key", retries=1),
            await retell.send(gw.client, "call_ended", call, signature="v=1,d=abc", retries=0),
            # a correct signature, but from long ago (replayed)
            await retell.send(gw.client, "call_ended", call,
                              signature=retell.sign(json.dumps({"event": "call_ended", "call": call}).encode(),
                                                    retell.API_KEY, 1_000), retries=0),
        ]  # fmt: skip
        raw = json.dumps({"event": "call_ended", "call": call}).encode()
    assert all(d.statuses and set(d.statuses) == {401} for d in forged)
    unsigned = await gw.client.post(f"/webhooks/{vendor}", content=raw, headers={"content-type": "application/json"})
    assert unsigned.status_code == 401 and unsigned.json()["error"]["type"] == "unauthorized"
    assert await call_row(gw, created["id"]) == before
    assert await usage_rows(gw, created["id"]) == []


async def test_a_missing_end_webhook_is_reconciled_from_the_vendor(gw: GatewayHarness, retell_fake: FakeServer) -> None:
    from gateway.calls import service as calls_service

    created = (await create(gw, type="phone", to="+14155550123", provider="retell")).json()
    retell.finish(retell_fake.state, created["vendorCallId"], seconds=30, cost_cents=4)
    svc = calls_service.call_service(gw.gateway)
    assert await svc.reconcile() == {"checked": 0, "changed": 0, "failed": 0}  # not stale yet: the webhook may come
    await gw.db.run("UPDATE agent_calls SET updated_at = updated_at - ? WHERE id = ?",
                    calls_service.STALE_MS + 1, created["id"])  # fmt: skip
    assert await svc.reconcile() == {"checked": 1, "changed": 1, "failed": 0}
    (row,) = await usage_rows(gw, created["id"])
    assert row["provider_cost_micros"] == 40_000 and row["final_cost_micros"] == 50_000 and row["minutes"] == 0.5
    assert retell_fake.state.requests[-1].path == f"/v2/get-call/{created['vendorCallId']}"
    assert await svc.reconcile() == {"checked": 0, "changed": 0, "failed": 0}  # billed: never fetched again


async def test_concurrent_call_limit_per_workspace(gw: GatewayHarness) -> None:
    await gw.set_limits(concurrentCalls=1)  # the admin route forgets the cached workspace itself
    assert (await create(gw, type="web")).status_code == 201
    refused = await create(gw, type="web")
    assert refused.status_code == 429 and refused.json()["error"]["limit"] == "concurrentCalls"
    assert refused.headers["Retry-After"]


async def test_ending_a_call_where_the_vendor_supports_it(gw: GatewayHarness, vapi_fake: FakeServer) -> None:
    created = (await create(gw, type="web")).json()
    r = await gw.client.delete(f"/voice/calls/{created['id']}", headers=gw.auth())
    assert r.status_code == 202, r.text
    assert vapi.calls_of(vapi_fake.state)[created["vendorCallId"]]["endRequested"] is True
    on_retell = (await create(gw, type="web", provider="retell")).json()
    r = await gw.client.delete(f"/voice/calls/{on_retell['id']}", headers=gw.auth())
    assert r.status_code == 409 and "not supported" in r.json()["error"]["message"]


async def test_list_filters_and_validation(gw: GatewayHarness) -> None:
    await create(gw, type="web")
    await create(gw, type="web", provider="retell")
    listed = (await gw.client.get("/voice/calls?provider=retell", headers=gw.auth())).json()["calls"]
    assert [c["provider"] for c in listed] == ["retell"]
    assert len((await gw.client.get("/voice/calls?type=web", headers=gw.auth())).json()["calls"]) == 2
    bad = await create(gw, type="phone", to="0800 FLOWERS")
    assert bad.status_code == 422 and "E.164" in bad.json()["error"]["message"]
    missing = await gw.client.post("/voice/calls", json={"agent": "sales", "type": "web"}, headers=gw.auth())
    assert missing.status_code == 404


async def test_every_vendor_failing_leaves_a_failed_call_and_no_bill(
    gw: GatewayHarness, vapi_fake: FakeServer, retell_fake: FakeServer
) -> None:
    vapi_fake.state.fail(Fault("status", status=429))
    retell_fake.state.fail(Fault("status", status=401))
    r = await create(gw, type="web")
    assert r.status_code == 502, r.text
    assert [a["provider"] for a in r.json()["error"]["attempts"]] == ["vapi", "retell"]
    rows = await gw.db.all("SELECT status FROM agent_calls WHERE workspace_id = ?", gw.workspace_id)
    assert rows == [{"status": "failed"}]


async def test_health_lists_vapi_and_retell_and_probes_them(
    gw: GatewayHarness, vapi_fake: FakeServer, retell_fake: FakeServer
) -> None:
    health = (await gw.client.get("/voice/providers/health", headers=gw.auth())).json()
    assert health["vapi"]["capabilities"] == ["call"] and health["retell"]["capabilities"] == ["call"]
    assert health["vapi"]["status"] != "unconfigured" and health["retell"]["status"] != "unconfigured"
    monitor = gw.gateway.runtime.health.monitor
    probes = {p["provider"]: p for p in await monitor.probe()}
    assert probes["vapi"]["ok"] and probes["retell"]["ok"]
    assert {r.path for r in vapi_fake.state.requests} >= {"/assistant"}
    assert {r.path for r in retell_fake.state.requests} >= {"/list-agents"}


async def test_a_hanging_vendor_times_out_and_the_call_lands_on_the_other(
    gw: GatewayHarness, vapi_fake: FakeServer, retell_fake: FakeServer
) -> None:
    vapi_fake.state.fail(Fault("hang"))
    r = await create(gw, type="web")
    assert r.status_code == 201, r.text
    assert (r.headers["X-Provider"], r.headers["X-Attempts"]) == ("retell", "2")
    await gw.settle()
    (failover,) = await gw.db.all("SELECT * FROM failover_logs WHERE workspace_id = ?", gw.workspace_id)
    assert (failover["from_provider"], failover["error_class"]) == ("vapi", "timeout")


async def test_budgets_count_call_cost(gw: GatewayHarness, retell_fake: FakeServer) -> None:
    await gw.set_limits(monthlyBudgetUsd=1)  # the admin route forgets the cached workspace itself
    created = (await create(gw, type="phone", to="+14155550123", provider="retell")).json()
    call = retell.finish(retell_fake.state, created["vendorCallId"], seconds=600, cost_cents=90)  # $0.90 → $1.125
    assert (await retell.send(gw.client, "call_ended", call)).statuses == [200]
    refused = await create(gw, type="web")
    assert refused.status_code == 429, refused.text
    assert refused.json()["error"]["type"] == "quota_exceeded" and refused.json()["error"]["limit"] == "budget"
    report = (await gw.client.get("/usage", headers=gw.auth())).json()
    assert report["byResource"]["call"]["finalCost"] == 1.125


async def test_two_concurrent_creations_cannot_both_take_the_last_slot(gw: GatewayHarness) -> None:
    await gw.set_limits(concurrentCalls=1)  # the admin route forgets the cached workspace itself
    results = await asyncio.gather(*(create(gw, type="web") for _ in range(4)))
    assert sorted(r.status_code for r in results) == [201, 429, 429, 429]


async def test_the_app_lifespan_runs_the_reconciliation_pass_periodically(
    vapi_fake: FakeServer, retell_fake: FakeServer
) -> None:
    """What ``voice-gateway dev`` does: the calls router's lifespan reconciles every CALL_RECONCILE_SECONDS."""
    env = {**call_env(vapi_fake, retell_fake), "CALL_RECONCILE_SECONDS": "0.05"}
    async for harness in make_gateway(env):
        await harness.db.run(
            "INSERT INTO agent_calls (id, workspace_id, request_id, agent, type, status, created_at, updated_at)"
            " VALUES ('call_stuck', ?, 'req_x', 'support', 'web', 'creating', 0, 0)",
            harness.workspace_id,
        )
        async with harness.app.router.lifespan_context(harness.app):
            for _ in range(100):
                row = await harness.db.first("SELECT status FROM agent_calls WHERE id = 'call_stuck'")
                if row["status"] == "failed":
                    break
                await asyncio.sleep(0.02)
        assert row["status"] == "failed"


async def test_byok_vapi_key_brings_its_own_webhook_secret(gw: GatewayHarness, vapi_fake: FakeServer) -> None:
    r = await gw.client.put(f"/admin/workspaces/{gw.workspace_id}/providers/vapi",
                            json={"apiKey": f"{vapi.API_KEY}:workspace-secret"}, headers=gw.admin)  # fmt: skip
    assert r.status_code == 200, r.text
    created = (await create(gw, type="phone", to="+14155550123", provider="vapi")).json()
    assert vapi_fake.state.requests[-1].headers["authorization"] == f"Bearer {vapi.API_KEY}"  # the key alone
    call = vapi.finish(vapi_fake.state, created["vendorCallId"], seconds=60, cost=0.1)
    platform = await vapi.send(gw.client, vapi.end_of_call_report(call), retries=0)  # the platform's secret
    assert platform.statuses == [401] and await usage_rows(gw, created["id"]) == []
    own = await vapi.send(gw.client, vapi.end_of_call_report(call), secret="workspace-secret")
    assert own.statuses == [200] and len(await usage_rows(gw, created["id"])) == 1

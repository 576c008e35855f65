"""The request log end to end: one row per request (who, route, status, vendor, attempts, timings, units, cost,
error class), never the text; the admin and workspace views with filters and cursors; stats; the stdout line;
retention; the request metrics' histograms."""

from __future__ import annotations

import asyncio
import json

import pytest

from gateway.store.request_log import percentile
from tests.conftest import GatewayHarness
from tests.fakes.harness import FakeServer, Fault

TEXT = "The quick brown fox, in confidence."


async def logs(gw: GatewayHarness, path: str = "/admin/logs", **params: object) -> dict:
    r = await gw.client.get(path, params=params, headers=gw.admin if path.startswith("/admin") else gw.auth())
    assert r.status_code == 200, r.text
    return r.json()


async def test_a_synthesis_is_one_row_with_vendor_units_cost_and_timings(gw: GatewayHarness) -> None:
    r = await gw.client.post("/voice/synthesize", json={"text": TEXT}, headers=gw.auth())
    assert r.status_code == 200
    request_id = r.headers["x-request-id"]
    rows = (await logs(gw, route="/voice/synthesize"))["requests"]
    assert len(rows) == 1
    row = rows[0]
    assert row["requestId"] == request_id and row["workspaceId"] == gw.workspace_id and row["apiKeyId"] == gw.key_id
    assert (row["method"], row["status"], row["vendor"], row["capability"], row["attempts"]) == (
        "POST",
        200,
        "openai",
        "tts",
        1,
    )
    assert row["characters"] == len(TEXT) and row["costMicros"] > 0 and row["errorClass"] is None
    assert 0 <= row["ttfbMs"] <= row["latencyMs"]
    stored = await gw.db.all("SELECT * FROM request_log")
    assert TEXT not in json.dumps(stored) and "confidence" not in json.dumps(stored)
    usage = await gw.db.first("SELECT SUM(final_cost_micros) AS c FROM usage_records WHERE request_id = ?", request_id)
    assert row["costMicros"] == usage["c"]


async def test_failover_and_failures_are_logged_with_attempts_and_error_class(
    gw: GatewayHarness, openai_fake: FakeServer, deepgram_fake: FakeServer
) -> None:
    openai_fake.state.always(Fault("status", status=503))
    r = await gw.client.post("/voice/synthesize", json={"text": TEXT}, headers=gw.auth())
    assert r.status_code == 200
    deepgram_fake.state.always(Fault("status", status=503))
    failed = await gw.client.post("/voice/synthesize", json={"text": TEXT}, headers=gw.auth())
    assert failed.status_code == 502
    bad = await gw.client.post("/voice/synthesize", json={"text": 5}, headers=gw.auth())
    assert bad.status_code == 422
    rows = (await logs(gw, route="/voice/synthesize"))["requests"]
    by_id = {row["requestId"]: row for row in rows}
    assert (
        by_id[r.headers["x-request-id"]]["attempts"] == 2 and by_id[r.headers["x-request-id"]]["vendor"] == "deepgram"
    )
    down = by_id[failed.headers["x-request-id"]]
    assert (down["status"], down["errorClass"], down["attempts"], down["costMicros"]) == (502, "upstream_error", 2, 0)
    assert by_id[bad.headers["x-request-id"]]["errorClass"] == "invalid_request"
    errors = (await logs(gw, status="5xx"))["requests"]
    assert [row["requestId"] for row in errors] == [failed.headers["x-request-id"]]
    detail = (await gw.client.get(f"/admin/logs/{r.headers['x-request-id']}", headers=gw.admin)).json()
    assert detail["failovers"][0]["from"] == "openai" and detail["usage"][0]["provider"] == "deepgram"


async def test_filters_cursor_pages_and_workspace_isolation(gw: GatewayHarness) -> None:
    for _ in range(5):
        assert (await gw.client.get("/usage", headers=gw.auth())).status_code == 200
    unauthorized = await gw.client.get("/usage")
    assert unauthorized.status_code == 401
    first = await logs(gw, route="/usage", limit=2)
    second = await logs(gw, route="/usage", limit=2, cursor=first["nextCursor"])
    third = await logs(gw, route="/usage", limit=2, cursor=second["nextCursor"])
    ids = [row["requestId"] for page in (first, second, third) for row in page["requests"]]
    assert len(ids) == len(set(ids)) == 6 and third["nextCursor"] is None
    assert (await logs(gw, route="/usage", status="4xx"))["requests"][0]["status"] == 401
    own = await logs(gw, "/logs", route="/usage")
    assert {row["workspaceId"] for row in own["requests"]} == {gw.workspace_id} and len(own["requests"]) == 5
    r = await gw.client.post("/admin/workspaces", json={"name": "other"}, headers=gw.admin)
    other = r.json()["id"]
    key = (await gw.client.post(f"/admin/workspaces/{other}/keys", headers=gw.admin)).json()["key"]
    assert (await gw.client.get("/logs", headers=gw.auth(key))).json()["requests"] == []  # the other workspace's own
    mine = own["requests"][0]["requestId"]
    assert (await gw.client.get(f"/logs/{mine}", headers=gw.auth(key))).status_code == 404
    assert (await gw.client.get("/admin/logs", headers=gw.auth())).status_code == 403
    later = await logs(gw, since=own["requests"][0]["createdAt"] + 60_000)
    assert later["requests"] == []
    r = await gw.client.get("/admin/logs", params={"status": "9xx"}, headers=gw.admin)
    assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request"


async def test_stats_count_errors_percentiles_spend_and_breakdowns(gw: GatewayHarness, openai_fake: FakeServer) -> None:
    for _ in range(3):
        assert (await gw.client.post("/voice/synthesize", json={"text": TEXT}, headers=gw.auth())).status_code == 200
    openai_fake.state.always(Fault("status", status=400))
    pinned = {"text": TEXT, "provider": "openai"}
    assert (await gw.client.post("/voice/synthesize", json=pinned, headers=gw.auth())).status_code >= 400
    stats = (await gw.client.get("/stats", params={"bucket": "minute"}, headers=gw.auth())).json()
    totals = stats["totals"]
    assert totals["requests"] == 4 and totals["errors"] == 1 and totals["errorRate"] == 0.25
    assert totals["cost"] > 0 and totals["latencyMs"]["p50"] is not None
    assert totals["latencyMs"]["p50"] <= totals["latencyMs"]["p95"]
    assert stats["byVendor"]["openai"]["requests"] == 4 and stats["byCapability"]["tts"]["requests"] == 4
    assert stats["byCapability"]["tts"]["errors"] == 1  # a failure is counted under the capability it asked for
    assert sum(point["requests"] for point in stats["series"]) == 4
    admin = (await gw.client.get("/admin/stats", headers=gw.admin)).json()
    assert admin["totals"]["requests"] >= 4


def test_percentile_is_nearest_rank() -> None:
    values = list(range(1, 21))
    assert (percentile(values, 0.5), percentile(values, 0.95), percentile(values, 1.0)) == (10, 19, 20)
    assert percentile([], 0.5) is None and percentile([7], 0.95) == 7


async def test_one_json_line_per_request_on_stdout(gw: GatewayHarness, capsys: pytest.CaptureFixture[str]) -> None:
    r = await gw.client.post("/voice/synthesize", json={"text": TEXT}, headers=gw.auth())
    out = ""
    for _ in range(100):  # the local runtime writes these lines in batches (runtimes.local.log_lines)
        out += capsys.readouterr().out
        if r.headers["x-request-id"] in out:
            break
        await asyncio.sleep(0.01)
    lines = [json.loads(line) for line in out.splitlines() if line.startswith('{"msg":"request"')]
    mine = [line for line in lines if line["requestId"] == r.headers["x-request-id"]]
    assert len(mine) == 1 and mine[0]["vendor"] == "openai" and mine[0]["status"] == 200
    assert TEXT not in json.dumps(lines) and gw.key not in json.dumps(lines)


async def test_retention_prunes_old_rows(gw: GatewayHarness) -> None:
    await gw.client.get("/usage", headers=gw.auth())
    await gw.settle()
    await gw.db.run("UPDATE request_log SET created_at = created_at - 31 * 86400000")
    middleware = gw.app.middleware_stack
    while type(middleware).__name__ != "GatewayMiddleware":
        middleware = middleware.app
    middleware.request_log._next_prune = 0.0
    await gw.client.get("/usage", headers=gw.auth())
    await gw.settle()
    rows = await gw.db.all("SELECT created_at FROM request_log")
    assert len(rows) == 1  # only the request after the clock moved on


async def test_metrics_have_histogram_buckets(gw: GatewayHarness) -> None:
    await gw.client.post("/voice/synthesize", json={"text": TEXT}, headers=gw.auth())
    text = (await gw.client.get("/metrics", headers=gw.admin)).text
    assert "# TYPE vgw_http_request_duration_seconds histogram" in text
    assert 'vgw_http_request_duration_seconds_bucket{route="/voice/synthesize",le="+Inf"} 1' in text
    assert 'vgw_vendor_latency_seconds_bucket{capability="tts",provider="openai",le="0.005"}' in text
    assert 'vgw_time_to_first_byte_seconds_count{capability="tts",provider="openai"} 1' in text
    assert gw.workspace_id not in text

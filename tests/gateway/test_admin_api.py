"""Admin API: workspaces, keys (hashed, revocable), vendor keys (encrypted, never returned), usage reports."""

from __future__ import annotations

import pytest

from tests.conftest import GatewayHarness
from tests.fakes.harness import FakeServer


async def test_admin_routes_need_the_admin_token(gw: GatewayHarness) -> None:
    r = await gw.client.get("/admin/workspaces")
    assert r.status_code == 401
    r = await gw.client.get("/admin/workspaces", headers=gw.auth())
    assert r.status_code == 403 and r.json()["error"]["type"] == "forbidden"
    r = await gw.client.get("/admin/workspaces", headers=gw.admin)
    assert r.status_code == 200 and gw.workspace_id in [w["id"] for w in r.json()["workspaces"]]


async def test_keys_are_stored_hashed_and_shown_once(gw: GatewayHarness) -> None:
    r = await gw.client.post(f"/admin/workspaces/{gw.workspace_id}/keys", headers=gw.admin)
    assert r.status_code == 201
    key = r.json()["key"]
    rows = await gw.db.all("SELECT * FROM api_keys")
    assert all(key not in str(row.values()) for row in rows)
    import hashlib

    assert hashlib.sha256(key.encode()).hexdigest() in {row["key_hash"] for row in rows}
    r = await gw.client.get(f"/admin/workspaces/{gw.workspace_id}", headers=gw.admin)
    assert key not in r.text and len(r.json()["keys"]) == 2


async def test_revocation_is_effective_on_the_next_request(gw: GatewayHarness) -> None:
    assert (await gw.client.get("/usage", headers=gw.auth())).status_code == 200
    r = await gw.client.delete(f"/admin/workspaces/{gw.workspace_id}/keys/{gw.key_id}", headers=gw.admin)
    assert r.status_code == 204
    r = await gw.client.get("/usage", headers=gw.auth())
    assert r.status_code == 401
    r = await gw.client.delete(f"/admin/workspaces/{gw.workspace_id}/keys/{gw.key_id}x", headers=gw.admin)
    assert r.status_code == 404 and r.json()["error"]["type"] == "not_found"


async def test_suspended_workspace_is_refused(gw: GatewayHarness) -> None:
    r = await gw.client.patch(f"/admin/workspaces/{gw.workspace_id}", json={"status": "suspended"}, headers=gw.admin)
    assert r.status_code == 200
    r = await gw.client.post("/voice/synthesize", json={"text": "hi"}, headers=gw.auth())
    assert r.status_code == 401


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": ""},
        {"name": 5},
        {"name": "x", "limits": {"requestsPerMinute": 0}},
        {"name": "x", "limits": {"bogus": 1}},
        {"name": "x", "markupPercentage": -1},
    ],
)
async def test_bad_workspace_bodies(gw: GatewayHarness, body: dict) -> None:
    r = await gw.client.post("/admin/workspaces", json=body, headers=gw.admin)
    assert r.status_code == 422 and r.json()["error"]["type"] == "invalid_request"


async def test_workspace_markup_and_limits_round_trip(gw: GatewayHarness) -> None:
    r = await gw.client.post(
        "/admin/workspaces",
        json={"name": "beta", "markupPercentage": 35, "limits": {"requestsPerMinute": 10}},
        headers=gw.admin,
    )
    assert r.status_code == 201
    created = r.json()
    assert created["markupPercentage"] == 35
    assert created["limits"] == {"requestsPerMinute": 10, "requestsPerHour": 1000}
    r = await gw.client.patch(
        f"/admin/workspaces/{created['id']}", json={"limits": {"requestsPerHour": 50}}, headers=gw.admin
    )
    assert r.json()["limits"] == {"requestsPerMinute": 10, "requestsPerHour": 50}


async def test_workspace_vendor_key_is_encrypted_and_used(gw: GatewayHarness, openai_fake: FakeServer) -> None:
    byok = "sk-workspace-own-key-123456"
    openai_fake.state.options["api_key"] = byok  # the fake now only accepts the workspace's own key
    r = await gw.client.put(
        f"/admin/workspaces/{gw.workspace_id}/providers/openai",
        json={"enabled": True, "apiKey": byok},
        headers=gw.admin,
    )
    assert r.status_code == 200 and byok not in r.text
    stored = await gw.db.first("SELECT encrypted_api_key FROM workspace_provider_configs")
    assert stored["encrypted_api_key"].startswith("v1:") and byok not in stored["encrypted_api_key"]
    r = await gw.client.post("/voice/synthesize", json={"text": "hello", "provider": "openai"}, headers=gw.auth())
    assert r.status_code == 200 and r.headers["x-provider"] == "openai"
    assert openai_fake.state.requests[-1].headers["authorization"] == f"Bearer {byok}"


async def test_disabling_a_vendor_for_a_workspace(gw: GatewayHarness) -> None:
    r = await gw.client.put(
        f"/admin/workspaces/{gw.workspace_id}/providers/openai", json={"enabled": False}, headers=gw.admin
    )
    assert r.status_code == 200
    r = await gw.client.post("/voice/synthesize", json={"text": "hello"}, headers=gw.auth())
    assert r.headers["x-provider"] == "deepgram" and r.headers["x-attempts"] == "1"


async def test_platform_key_lives_encrypted_in_kv(gw: GatewayHarness, deepgram_fake: FakeServer) -> None:
    deepgram_fake.state.options["api_key"] = "platform-deepgram-key"
    r = await gw.client.put(
        "/admin/platform/providers/deepgram",
        json={"enabled": True, "apiKey": "platform-deepgram-key"},
        headers=gw.admin,
    )
    assert r.status_code == 200 and "platform-deepgram-key" not in r.text
    sealed = await gw.gateway.runtime.kv.get("platform-key:deepgram")
    assert sealed and "platform-deepgram-key" not in sealed


async def test_unknown_provider_config_is_400(gw: GatewayHarness) -> None:
    r = await gw.client.put("/admin/platform/providers/acme", json={"enabled": True}, headers=gw.admin)
    assert r.status_code == 400


async def test_usage_report_and_isolation(gw: GatewayHarness) -> None:
    for _ in range(3):
        r = await gw.client.post("/voice/synthesize", json={"text": "hello world"}, headers=gw.auth())
        assert r.status_code == 200
    await gw.settle()
    r = await gw.client.get(f"/admin/usage?workspaceId={gw.workspace_id}", headers=gw.admin)
    assert r.status_code == 200
    report = r.json()
    assert report["totals"]["requests"] == 3
    assert report["byResource"]["tts"]["characters"] == 33
    assert report["totals"]["finalCost"] == pytest.approx(report["totals"]["providerCost"] * 1.2, rel=1e-3)
    # The workspace sees the same through its own key, and nobody else's.
    own = (await gw.client.get("/usage", headers=gw.auth())).json()
    assert own["totals"] == report["totals"]
    r = await gw.client.get("/usage?workspaceId=ws_other", headers=gw.auth())
    assert r.status_code == 403
    r = await gw.client.post("/admin/workspaces", json={"name": "other"}, headers=gw.admin)
    other = r.json()["id"]
    r = await gw.client.post(f"/admin/workspaces/{other}/keys", headers=gw.admin)
    other_key = r.json()["key"]
    theirs = (await gw.client.get("/usage", headers=gw.auth(other_key))).json()
    assert theirs["workspaceId"] == other and theirs["totals"]["requests"] == 0
    r = await gw.client.get(f"/admin/usage?workspaceId={gw.workspace_id}", headers=gw.auth(other_key))
    assert r.status_code == 403
    r = await gw.client.get(f"/admin/usage?workspaceId={gw.workspace_id}&period=2026-13", headers=gw.admin)
    assert r.status_code == 400


async def test_failover_log_endpoint(gw: GatewayHarness, openai_fake: FakeServer) -> None:
    from tests.fakes.harness import Fault

    openai_fake.state.always(Fault("status", status=503))
    r = await gw.client.post("/voice/synthesize", json={"text": "hello"}, headers=gw.auth())
    assert r.status_code == 200
    r = await gw.client.get(f"/admin/failovers?workspaceId={gw.workspace_id}", headers=gw.admin)
    rows = r.json()["failovers"]
    assert rows and rows[0]["from"] == "openai" and rows[0]["to"] == "deepgram"
    assert rows[0]["errorClass"] == "server_error" and rows[0]["result"] == "switched"

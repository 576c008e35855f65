"""A workspace key can never read or spend another workspace's data: every admin route refuses it, usage reads are
its own, and spending always bills the key's own workspace."""

from __future__ import annotations

import pytest

from gateway.routing.directory import PLATFORM_KEY_PREFIX
from tests.conftest import GatewayHarness


@pytest.fixture
async def other(gw: GatewayHarness) -> dict[str, str]:
    """A second workspace ("globex") with a key and some usage of its own."""
    r = await gw.client.post("/admin/workspaces", json={"name": "globex"}, headers=gw.admin)
    workspace_id = r.json()["id"]
    r = await gw.client.post(f"/admin/workspaces/{workspace_id}/keys", headers=gw.admin)
    key, key_id = r.json()["key"], r.json()["id"]
    r = await gw.client.post(
        "/voice/synthesize", json={"text": "globex speaking"}, headers={"Authorization": f"Bearer {key}"}
    )
    assert r.status_code == 200
    return {"id": workspace_id, "key": key, "key_id": key_id}


def admin_routes(own: str, other: str, other_key_id: str) -> list[tuple[str, str, dict | None]]:
    routes: list[tuple[str, str, dict | None]] = [
        ("GET", "/admin/workspaces", None),
        ("POST", "/admin/workspaces", {"name": "mine now"}),
        ("GET", "/health/detailed", None),
        ("PUT", "/admin/platform/providers/openai", {"enabled": True, "apiKey": "sk-stolen"}),
        ("PUT", "/admin/platform/settings", {"pricingMarkupPercentage": 0}),
        ("GET", f"/admin/usage?workspaceId={other}", None),
        ("GET", f"/admin/failovers?workspaceId={other}", None),
    ]
    for target in (own, other):  # not even its own workspace through the admin API
        routes += [
            ("GET", f"/admin/workspaces/{target}", None),
            ("PATCH", f"/admin/workspaces/{target}", {"markupPercentage": 0}),
            ("POST", f"/admin/workspaces/{target}/keys", None),
            ("DELETE", f"/admin/workspaces/{target}/keys/{other_key_id}", None),
            ("PUT", f"/admin/workspaces/{target}/providers/openai", {"enabled": True, "apiKey": "sk-x"}),
            ("PUT", f"/admin/workspaces/{target}/strategy", {"strategy": "cost"}),
            ("GET", f"/admin/usage?workspaceId={target}", None),
        ]
    return routes


async def test_every_admin_route_refuses_a_workspace_key(gw: GatewayHarness, other: dict[str, str]) -> None:
    before = await gw.db.all("SELECT id, markup_percentage, limits_json FROM workspaces ORDER BY id")
    keys_before = await gw.db.all("SELECT id, revoked_at FROM api_keys ORDER BY id")
    for method, path, body in admin_routes(gw.workspace_id, other["id"], other["key_id"]):
        r = await gw.client.request(method, path, json=body, headers=gw.auth())
        assert r.status_code == 403, (method, path, r.status_code)
        assert r.json()["error"]["type"] == "forbidden"
    assert await gw.db.all("SELECT id, markup_percentage, limits_json FROM workspaces ORDER BY id") == before
    assert await gw.db.all("SELECT id, revoked_at FROM api_keys ORDER BY id") == keys_before
    assert await gw.gateway.runtime.kv.get(PLATFORM_KEY_PREFIX + "openai") is None
    r = await gw.client.post(
        "/voice/synthesize", json={"text": "still works"}, headers={"Authorization": f"Bearer {other['key']}"}
    )
    assert r.status_code == 200  # the other workspace's key was not revoked


async def test_usage_reads_are_the_keys_own(gw: GatewayHarness, other: dict[str, str]) -> None:
    r = await gw.client.get(f"/usage?workspaceId={other['id']}", headers=gw.auth())
    assert r.status_code == 403 and r.json()["error"]["type"] == "forbidden"
    await gw.client.post("/voice/synthesize", json={"text": "acme speaking"}, headers=gw.auth())
    mine = (await gw.client.get("/usage", headers=gw.auth())).json()
    theirs = (await gw.client.get("/usage", headers={"Authorization": f"Bearer {other['key']}"})).json()
    assert mine["workspaceId"] == gw.workspace_id and mine["totals"]["requests"] == 1
    assert theirs["workspaceId"] == other["id"] and theirs["totals"]["requests"] == 1
    r = await gw.client.get(f"/usage?workspaceId={gw.workspace_id}", headers=gw.auth())
    assert r.status_code == 200 and r.json()["workspaceId"] == gw.workspace_id


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/voice/synthesize", {"text": "bill someone else"}),
        ("/voice/stream", {"text": "bill someone else"}),
        ("/llm/generate", {"prompt": "bill someone else"}),
    ],
)
async def test_spending_always_bills_the_keys_workspace(
    gw: GatewayHarness, other: dict[str, str], path: str, body: dict
) -> None:
    await gw.settle()
    rows_before = await gw.db.all("SELECT request_id FROM usage_records WHERE workspace_id = ?", other["id"])
    r = await gw.client.post(path, json={**body, "workspaceId": other["id"]}, headers=gw.auth())
    assert r.status_code == 403 and r.json()["error"]["type"] == "forbidden"
    r = await gw.client.post(path, json={**body, "workspaceId": gw.workspace_id}, headers=gw.auth())
    assert r.status_code == 200, r.text
    await gw.settle()
    assert await gw.db.all("SELECT request_id FROM usage_records WHERE workspace_id = ?", other["id"]) == rows_before
    mine = await gw.db.all("SELECT request_id FROM usage_records WHERE workspace_id = ?", gw.workspace_id)
    assert r.headers["x-request-id"] in {row["request_id"] for row in mine}


async def test_a_workspaces_limits_are_its_own(gw: GatewayHarness, other: dict[str, str]) -> None:
    r = await gw.client.patch(
        f"/admin/workspaces/{other['id']}", json={"limits": {"requestsPerMinute": 1}}, headers=gw.admin
    )
    assert r.status_code == 200
    r = await gw.client.post(
        "/voice/synthesize", json={"text": "hi"}, headers={"Authorization": f"Bearer {other['key']}"}
    )
    assert r.status_code == 429  # globex used its one request in the fixture
    for _ in range(3):
        assert (await gw.client.post("/voice/synthesize", json={"text": "hi"}, headers=gw.auth())).status_code == 200


async def test_forged_revoked_and_malformed_keys(gw: GatewayHarness, other: dict[str, str]) -> None:
    prefix = other["key"].split("_")[1]
    forged = f"vgw_{prefix}_{'A' * 43}"  # right prefix, wrong secret
    for token in (forged, other["key"][:-1], "vgw_short", "not-a-key", gw.key + "x"):
        r = await gw.client.post("/voice/synthesize", json={"text": "hi"}, headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401, token
    r = await gw.client.delete(f"/admin/workspaces/{other['id']}/keys/{other['key_id']}", headers=gw.admin)
    assert r.status_code == 204
    r = await gw.client.get("/usage", headers={"Authorization": f"Bearer {other['key']}"})
    assert r.status_code == 401
    # A key id of another workspace cannot be revoked through this workspace's path.
    r = await gw.client.delete(f"/admin/workspaces/{other['id']}/keys/{gw.key_id}", headers=gw.admin)
    assert r.status_code == 404
    assert (await gw.client.get("/usage", headers=gw.auth())).status_code == 200


def test_keys_carry_32_random_bytes_and_are_stored_as_sha256_with_a_lookup_prefix() -> None:
    import base64
    import hashlib

    from gateway.auth import generate_key

    seen = set()
    for _ in range(20):
        key, prefix, digest = generate_key()
        scheme, key_prefix, secret = key.split("_", 2)
        assert scheme == "vgw" and key_prefix == prefix and len(prefix) == 8
        assert len(base64.urlsafe_b64decode(secret + "=" * (-len(secret) % 4))) >= 32
        assert digest == hashlib.sha256(key.encode()).hexdigest() and secret not in digest
        seen.add(key)
    assert len(seen) == 20

"""Admin changes to a workspace or key take effect at once on the local runtime, whatever the caches held: a
reactivated workspace's keys work on the next request (no negative cache entry outliving the change), a revoked
key stops at once, changed limits apply to the next request."""

from __future__ import annotations

from tests.conftest import GatewayHarness


async def _status(gw: GatewayHarness, key: str | None = None) -> int:
    r = await gw.client.post("/voice/synthesize", json={"text": "hi"}, headers=gw.auth(key))
    return r.status_code


async def test_a_reactivated_workspace_is_served_at_once(gw: GatewayHarness) -> None:
    second = (await gw.client.post(f"/admin/workspaces/{gw.workspace_id}/keys", headers=gw.admin)).json()["key"]
    assert await _status(gw) == 200 and await _status(gw, second) == 200  # both keys cached as valid
    for _ in range(2):  # suspend and reactivate twice: refusals are cached in between
        r = await gw.client.patch(f"/admin/workspaces/{gw.workspace_id}", json={"status": "suspended"},
                                  headers=gw.admin)  # fmt: skip
        assert r.status_code == 200
        assert await _status(gw) == 401 and await _status(gw, second) == 401
        assert await _status(gw) == 401  # served from the cache this time
        r = await gw.client.patch(f"/admin/workspaces/{gw.workspace_id}", json={"status": "active"},
                                  headers=gw.admin)  # fmt: skip
        assert r.status_code == 200
        assert await _status(gw) == 200 and await _status(gw, second) == 200


async def test_a_key_first_seen_while_suspended_works_after_reactivation(gw: GatewayHarness) -> None:
    r = await gw.client.patch(f"/admin/workspaces/{gw.workspace_id}", json={"status": "suspended"}, headers=gw.admin)
    assert r.status_code == 200
    fresh = (await gw.client.post(f"/admin/workspaces/{gw.workspace_id}/keys", headers=gw.admin)).json()["key"]
    assert await _status(gw, fresh) == 401  # its first lookup is a refusal
    r = await gw.client.patch(f"/admin/workspaces/{gw.workspace_id}", json={"status": "active"}, headers=gw.admin)
    assert await _status(gw, fresh) == 200


async def test_revocation_and_new_limits_apply_to_the_next_request(gw: GatewayHarness) -> None:
    created = (await gw.client.post(f"/admin/workspaces/{gw.workspace_id}/keys", headers=gw.admin)).json()
    assert await _status(gw, created["key"]) == 200
    r = await gw.client.delete(f"/admin/workspaces/{gw.workspace_id}/keys/{created['id']}", headers=gw.admin)
    assert r.status_code == 204 and await _status(gw, created["key"]) == 401
    r = await gw.client.patch(f"/admin/workspaces/{gw.workspace_id}", json={"limits": {"requestsPerMinute": 1}},
                              headers=gw.admin)  # fmt: skip
    assert r.status_code == 200
    assert await _status(gw) == 429  # this minute's requests already exceed the new limit

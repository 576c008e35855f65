"""The cache stage end to end, in-process against the OpenAI fake on loopback: /voice/synthesize and
/v1/audio/speech served from the cache, the policy (admin API and Cache-Control), scopes, billing of hits, purge,
and what the usage report and /metrics show."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import GatewayHarness, make_gateway, vendor_env
from tests.fakes.harness import FakeServer

from .contract import ManualClock

TEXT = "Thank you for calling. Please hold."
OPENAI_MICROS_PER_CHAR = 15  # tts-1: $15 per 1M characters


async def enable(gw: GatewayHarness, workspace_id: str | None = None, **policy: Any) -> dict[str, Any]:
    r = await gw.client.put(f"/admin/workspaces/{workspace_id or gw.workspace_id}/cache",
                            json={"enabled": True, **policy}, headers=gw.admin)  # fmt: skip
    assert r.status_code == 200, r.text
    return r.json()


async def say(gw: GatewayHarness, text: str = TEXT, key: str | None = None, **headers: str) -> httpx.Response:
    r = await gw.client.post("/voice/synthesize", json={"text": text},
                             headers={**gw.auth(key), **{k.replace("_", "-"): v for k, v in headers.items()}})  # fmt: skip
    assert r.status_code == 200, r.text
    await gw.settle()  # the entry is written after the response
    return r


def speech_calls(fake: FakeServer) -> int:
    """The fake's speech requests for this module's TEXT: the fake is shared by the session, so a request some
    earlier test left in flight (other text) must not count here."""
    return sum(1 for r in fake.state.requests if r.path == "/v1/audio/speech" and b"Please hold" in r.body)


async def second_workspace(gw: GatewayHarness) -> tuple[str, str]:
    r = await gw.client.post("/admin/workspaces", json={"name": "other"}, headers=gw.admin)
    workspace_id = r.json()["id"]
    r = await gw.client.post(f"/admin/workspaces/{workspace_id}/keys", json={}, headers=gw.admin)
    return workspace_id, r.json()["key"]


async def test_off_by_default_every_request_reaches_the_vendor(gw: GatewayHarness, openai_fake: FakeServer) -> None:
    first, second = await say(gw), await say(gw)
    assert first.headers["x-cache"] == second.headers["x-cache"] == "BYPASS"
    assert speech_calls(openai_fake) == 2


async def test_second_identical_request_is_a_hit_with_the_same_bytes_and_no_vendor_call(
    gw: GatewayHarness, openai_fake: FakeServer
) -> None:
    await enable(gw)
    miss = await say(gw)
    assert miss.headers["x-cache"] == "MISS" and speech_calls(openai_fake) == 1
    hit = await say(gw, "  Thank you for calling.   Please hold. ")  # the same words, other spacing
    assert hit.headers["x-cache"] == "HIT"
    assert hit.content == miss.content and hit.headers["content-type"] == "audio/mpeg"
    assert hit.headers["x-provider"] == "openai"  # the vendor that made the audio
    assert hit.headers["x-cost"] == "0.000000" and hit.headers["x-attempts"] == "0"
    assert speech_calls(openai_fake) == 1  # the fake saw no second request

    rows = await gw.db.all("SELECT * FROM usage_records ORDER BY created_at")
    assert [r["provider"] for r in rows] == ["openai", "cache"]
    cached = rows[1]
    assert cached["request_id"] == hit.headers["x-request-id"]
    assert (cached["resource"], cached["characters"], cached["model"]) == ("tts", len(TEXT), "tts-1")
    assert cached["provider_cost_micros"] == 0 and cached["final_cost_micros"] == 0
    assert cached["saved_cost_micros"] == OPENAI_MICROS_PER_CHAR * len(TEXT)  # the vendor cost avoided
    assert rows[0]["saved_cost_micros"] is None


async def test_hits_are_billed_at_the_workspace_cache_price(gw: GatewayHarness) -> None:
    await enable(gw, pricePerMillionCharacters="2")
    await say(gw)
    hit = await say(gw)
    rows = await gw.db.all("SELECT * FROM usage_records WHERE provider = 'cache'")
    assert rows[0]["final_cost_micros"] == 2 * len(TEXT) and rows[0]["provider_cost_micros"] == 0
    assert hit.headers["x-cost"] == f"{2 * len(TEXT) / 1_000_000:.6f}"


async def test_cache_control_no_cache_refreshes_and_no_store_leaves_nothing(
    gw: GatewayHarness, openai_fake: FakeServer
) -> None:
    await enable(gw)
    assert (await say(gw, cache_control="no-store")).headers["x-cache"] == "BYPASS"
    assert (await say(gw)).headers["x-cache"] == "MISS"  # no-store kept nothing
    refreshed = await say(gw, cache_control="no-cache")
    assert refreshed.headers["x-cache"] == "BYPASS"  # looked nothing up: the vendor spoke again
    assert speech_calls(openai_fake) == 3
    hit = await say(gw)
    assert hit.headers["x-cache"] == "HIT" and hit.content == refreshed.content  # …and what it said was stored


async def test_another_workspace_never_hits_unless_both_use_the_shared_scope(
    gw: GatewayHarness, openai_fake: FakeServer
) -> None:
    other_id, other_key = await second_workspace(gw)
    await enable(gw)
    await enable(gw, other_id)
    await say(gw)
    assert (await say(gw, key=other_key)).headers["x-cache"] == "MISS"
    assert speech_calls(openai_fake) == 2

    # X-Cache-Scope: shared is ignored until the workspace allows the shared scope
    await say(gw, "Welcome to Acme.", x_cache_scope="shared")
    assert (await say(gw, "Welcome to Acme.", key=other_key, x_cache_scope="shared")).headers["x-cache"] == "MISS"
    await enable(gw, allowShared=True)
    await enable(gw, other_id, allowShared=True)
    first = await say(gw, "Press one for sales.", x_cache_scope="shared")
    shared = await say(gw, "Press one for sales.", key=other_key, x_cache_scope="shared")
    assert shared.headers["x-cache"] == "HIT" and shared.content == first.content
    # without the header the other workspace stays in its own scope
    assert (await say(gw, "Press one for sales.", key=other_key)).headers["x-cache"] == "MISS"
    # a workspace purge leaves the shared pool alone; the shared purge empties it
    await gw.client.delete(f"/admin/workspaces/{gw.workspace_id}/cache", headers=gw.admin)
    assert (await say(gw, "Press one for sales.", x_cache_scope="shared")).headers["x-cache"] == "HIT"
    r = await gw.client.delete("/admin/speech-cache/shared", headers=gw.admin)
    assert r.status_code == 200 and r.json()["purged"] >= 1
    assert (await say(gw, "Press one for sales.", x_cache_scope="shared")).headers["x-cache"] == "MISS"


async def test_ttl_expiry_and_purge(gw: GatewayHarness, openai_fake: FakeServer) -> None:
    clock = ManualClock()
    cache = gw.gateway.speech_cache
    cache.clock = cache.store.clock = clock  # the stage stamps expiry, the store checks it
    await enable(gw, ttlSeconds=60)
    await say(gw)
    clock.now += 59
    assert (await say(gw)).headers["x-cache"] == "HIT"
    clock.now += 2
    assert (await say(gw)).headers["x-cache"] == "MISS"  # expired: the vendor again, and stored again
    assert (await say(gw)).headers["x-cache"] == "HIT"

    r = await gw.client.get(f"/admin/workspaces/{gw.workspace_id}/cache", headers=gw.admin)
    assert r.json()["storedEntries"] == 1 and r.json()["storedBytes"] > 0 and r.json()["ttlSeconds"] == 60
    r = await gw.client.delete(f"/admin/workspaces/{gw.workspace_id}/cache", headers=gw.admin)
    assert r.status_code == 200 and r.json() == {"purged": 1}
    assert (await say(gw)).headers["x-cache"] == "MISS"
    assert speech_calls(openai_fake) == 3


async def test_openai_speech_route_is_cached_apart_from_the_native_one(
    gw: GatewayHarness, openai_fake: FakeServer
) -> None:
    await enable(gw)

    async def speech() -> httpx.Response:
        r = await gw.client.post("/v1/audio/speech", json={"model": "tts-1", "input": TEXT, "voice": "alloy"},
                                 headers=gw.auth())  # fmt: skip
        assert r.status_code == 200, r.text
        await gw.settle()
        return r

    miss, hit = await speech(), await speech()
    assert (miss.headers["x-cache"], hit.headers["x-cache"]) == ("MISS", "HIT")
    assert hit.content == miss.content and hit.headers["x-provider"] == "openai"
    assert speech_calls(openai_fake) == 1


async def test_usage_report_and_metrics_show_the_cache(gw: GatewayHarness) -> None:
    await enable(gw)
    await say(gw)
    await say(gw)
    await say(gw)
    report = (await gw.client.get("/usage", headers=gw.auth())).json()
    cache = report["cache"]
    assert (cache["hits"], cache["ttsRequests"], cache["hitRatio"]) == (2, 3, 0.6667)
    assert cache["savedProviderCost"] == round(2 * OPENAI_MICROS_PER_CHAR * len(TEXT) / 1e6, 6)
    assert cache["finalCost"] == 0 and cache["characters"] == 2 * len(TEXT)
    assert cache["storedEntries"] == 1 and cache["storedBytes"] > 0
    assert report["byProvider"]["cache"]["providerCost"] == 0

    metrics = (await gw.client.get("/metrics", headers=gw.admin)).text
    assert 'vgw_speech_cache_lookups_total{result="hit"} 2' in metrics
    assert 'vgw_speech_cache_lookups_total{result="miss"} 1' in metrics
    assert "vgw_speech_cache_hit_ratio 0.666667" in metrics
    assert 'vgw_speech_cache_bytes_total{direction="served"}' in metrics


async def test_policy_validation_and_unknown_workspace(gw: GatewayHarness) -> None:
    r = await gw.client.put(f"/admin/workspaces/{gw.workspace_id}/cache", json={"ttlSeconds": 0}, headers=gw.admin)
    assert r.status_code == 422 and r.json()["error"]["type"] == "invalid_request"
    r = await gw.client.put(f"/admin/workspaces/{gw.workspace_id}/cache", json={"pricePerMillionCharacters": "-1"},
                            headers=gw.admin)  # fmt: skip
    assert r.status_code == 400
    r = await gw.client.delete("/admin/workspaces/ws_nope/cache", headers=gw.admin)
    assert r.status_code == 404
    r = await gw.client.put(f"/admin/workspaces/{gw.workspace_id}/cache", json={"enabled": True}, headers=gw.auth())
    assert r.status_code == 403


async def test_a_runtime_without_a_store_gets_an_in_memory_one(openai_fake: FakeServer) -> None:
    from gateway.metrics import Metrics
    from gateway.ports import Runtime
    from gateway.speech_cache import MemorySpeechCacheStore
    from gateway.speech_cache.wiring import build_speech_cache

    async for gw in make_gateway(vendor_env(openai_fake)):
        runtime: Runtime = gw.gateway.runtime
        bare = Runtime(db=runtime.db, kv=runtime.kv, health=runtime.health, http=runtime.http, tasks=runtime.tasks,
                       env=runtime.env)  # fmt: skip
        assert isinstance(build_speech_cache(bare, Metrics(), 1).store, MemorySpeechCacheStore)

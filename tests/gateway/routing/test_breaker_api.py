"""Breakers through the app: a blackholed vendor stops costing time after three requests, a bad BYOK key opens only
that workspace's breaker, and the health endpoints show the merged circuit."""

from __future__ import annotations

import time

from gateway.routing.breaker import OPEN
from tests.conftest import GatewayHarness
from tests.fakes.harness import FakeServer, Fault


async def synthesize(gw: GatewayHarness, key: str | None = None):
    return await gw.client.post("/voice/synthesize", json={"text": "Hello there."}, headers=gw.auth(key))


async def test_a_blackholed_vendor_is_skipped_once_its_breaker_opens(
    gw: GatewayHarness, openai_fake: FakeServer
) -> None:
    openai_fake.state.always(Fault("hang"))  # the harness sets a 1 s attempt timeout; the cooldown is 30 s
    slow = []
    for _ in range(5):
        started = time.perf_counter()
        r = await synthesize(gw)
        assert r.status_code == 200 and r.headers["x-provider"] == "deepgram"
        slow.append(time.perf_counter() - started >= 0.9)
        if not slow[-1]:
            assert r.headers["x-attempts"] == "1"  # openai was not even tried
    assert slow == [True, True, True, False, False]
    hung = len(openai_fake.state.requests)
    assert hung == 3
    health = (await gw.client.get("/voice/providers/health", headers=gw.auth())).json()
    assert health["openai"]["circuit"] == OPEN and health["deepgram"]["circuit"] == "closed"
    detailed = (await gw.client.get("/health/detailed", headers=gw.admin)).json()
    assert detailed["vendors"]["openai"]["circuit"] == OPEN
    (fingerprint,) = detailed["vendors"]["openai"]["breakers"]
    assert detailed["vendors"]["openai"]["breakers"][fingerprint] == OPEN
    assert "test-openai-key" not in str(detailed) and len(fingerprint) == 12


async def test_a_bad_byok_key_opens_only_that_workspaces_breaker(gw: GatewayHarness, openai_fake: FakeServer) -> None:
    r = await gw.client.post("/admin/workspaces", json={"name": "byok"}, headers=gw.admin)
    other = r.json()["id"]
    r = await gw.client.put(f"/admin/workspaces/{other}/providers/openai", json={"enabled": True, "apiKey": "sk-wrong"},
                            headers=gw.admin)  # fmt: skip
    assert r.status_code == 200, r.text
    r = await gw.client.post(f"/admin/workspaces/{other}/keys", json={"name": "k"}, headers=gw.admin)
    other_key = r.json()["key"]

    r = await synthesize(gw, other_key)
    assert r.status_code == 200 and r.headers["x-provider"] == "deepgram" and r.headers["x-attempts"] == "2"
    before = len(openai_fake.state.requests)
    r = await synthesize(gw, other_key)
    assert r.headers["x-attempts"] == "1" and len(openai_fake.state.requests) == before  # skipped at once (AUTH)
    r = await synthesize(gw)  # the first workspace, on the environment's key, is unaffected
    assert r.status_code == 200 and r.headers["x-provider"] == "openai"
    mine = (await gw.client.get("/voice/providers/health", headers=gw.auth())).json()
    theirs = (await gw.client.get("/voice/providers/health", headers=gw.auth(other_key))).json()
    assert mine["openai"]["circuit"] == "closed" and theirs["openai"]["circuit"] == OPEN

"""The usage report's byProvider is keyed by the vendor id (the cost sum once shadowed the provider column)."""

from __future__ import annotations

from tests.conftest import GatewayHarness


async def test_by_provider_is_keyed_by_vendor(gw: GatewayHarness) -> None:
    r = await gw.client.post("/voice/synthesize", json={"text": "hello", "provider": "openai"}, headers=gw.auth())
    assert r.status_code == 200
    report = (await gw.client.get("/usage", headers=gw.auth())).json()
    assert list(report["byProvider"]) == ["openai"]
    assert report["byProvider"]["openai"]["providerCost"] > 0
    assert report["byProvider"]["openai"]["providerCost"] == report["totals"]["providerCost"]

"""The gateway in-process with one workspace and key, on a chosen clock, vendor HTTP client and runtime extras."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx

from tests.conftest import ADMIN_TOKEN, GatewayHarness
from tests.gateway.limits.fakes import FakeClock


async def gateway_at(
    clock: FakeClock | None,
    env: dict[str, str],
    http: httpx.AsyncClient | None = None,
    extras: dict[str, Any] | None = None,
) -> AsyncIterator[tuple[GatewayHarness, FakeClock | None]]:
    """The app in-process with a workspace and key, optionally on a fake clock and a given vendor HTTP client."""
    from gateway.app import create_app
    from runtimes.local.runtime import build_local_runtime

    runtime = await build_local_runtime(None, {"ADMIN_TOKEN": ADMIN_TOKEN, **env})
    if clock is not None:
        runtime.clock = clock
    runtime.extras.update(extras or {})
    if http is not None:
        await runtime.http.aclose()
        runtime.http = http
    app = create_app(runtime)
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway.test") as client:
        await client.put("/admin/platform/settings", json={"builtinFallbackEnabled": False}, headers=admin)
        workspace = (await client.post("/admin/workspaces", json={"name": "billing"}, headers=admin)).json()
        key = (await client.post(f"/admin/workspaces/{workspace['id']}/keys", headers=admin)).json()
        harness = GatewayHarness(app, client, workspace["id"], key["key"], key["id"])
        try:
            yield harness, clock
        finally:
            await harness.settle()
            for close in runtime.on_close:
                await close()
            if http is not None:
                await http.aclose()

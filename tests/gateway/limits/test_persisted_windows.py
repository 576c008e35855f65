"""A restart of the local server does not hand a workspace its minute or hour again: admissions are written with the
request's rows and read back by the next process — for the workspace's windows and each key's, minute and hour;
refunded (invalid) requests stay uncounted. The gateway runs in-process on a state directory, restarted in between."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import ADMIN_TOKEN, GatewayHarness, vendor_env
from tests.fakes.harness import FakeServer
from tests.gateway.limits.fakes import FakeClock

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@asynccontextmanager
async def process(state_dir: Path, clock: FakeClock, env: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    """One run of the local gateway on ``state_dir`` (what ``voice-gateway dev`` builds), stopped on exit."""
    from gateway.app import create_app
    from runtimes.local.runtime import build_local_runtime

    runtime = await build_local_runtime(state_dir, {"ADMIN_TOKEN": ADMIN_TOKEN, **env}, probe_vendors=False)
    runtime.clock = clock
    app = create_app(runtime)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway.test") as client:
            yield client
    finally:
        await app.state.gateway.close()
        for close in runtime.on_close:
            await close()


async def setup(client: httpx.AsyncClient, **limits: Any) -> tuple[str, list[str]]:
    await client.put("/admin/platform/settings", json={"builtinFallbackEnabled": False}, headers=ADMIN)
    workspace = (await client.post("/admin/workspaces", json={"name": "w", "limits": limits}, headers=ADMIN)).json()
    keys = [(await client.post(f"/admin/workspaces/{workspace['id']}/keys", headers=ADMIN)).json()["key"]
            for _ in range(2)]  # fmt: skip
    return workspace["id"], keys


async def call(client: httpx.AsyncClient, key: str, body: Any = None) -> int:
    r = await client.post("/voice/synthesize", json=body or {"text": "hi"}, headers={"Authorization": f"Bearer {key}"})
    return r.status_code


async def test_the_minute_window_survives_a_restart(tmp_path: Path, openai_fake: FakeServer) -> None:
    clock, env = FakeClock(), vendor_env(openai_fake)
    async with process(tmp_path, clock, env) as client:
        _, (key, other) = await setup(client, requestsPerMinute=3)
        assert [await call(client, key) for _ in range(2)] + [await call(client, other)] == [200, 200, 200]
    clock.advance(5)
    async with process(tmp_path, clock, env) as client:
        assert await call(client, key) == 429 and await call(client, other) == 429
        clock.advance(60)  # the minute has passed: the restored admissions expire like live ones
        assert await call(client, key) == 200


async def test_the_hour_window_survives_a_restart(tmp_path: Path, openai_fake: FakeServer) -> None:
    clock, env = FakeClock(), vendor_env(openai_fake)
    async with process(tmp_path, clock, env) as client:
        _, (key, _other) = await setup(client, requestsPerMinute=100, requestsPerHour=4)
        assert [await call(client, key) for _ in range(4)] == [200] * 4
    clock.advance(600)  # ten minutes later: the minute is long gone, the hour is not
    async with process(tmp_path, clock, env) as client:
        assert await call(client, key) == 429
    clock.advance(3000)
    async with process(tmp_path, clock, env) as client:
        assert await call(client, key) == 200


async def test_refunded_requests_stay_uncounted_after_a_restart(tmp_path: Path, openai_fake: FakeServer) -> None:
    clock, env = FakeClock(), vendor_env(openai_fake)
    async with process(tmp_path, clock, env) as client:
        _, (key, _other) = await setup(client, requestsPerMinute=2)
        assert [await call(client, key, {"text": ""}) for _ in range(5)] == [422] * 5  # invalid: refunded
        assert await call(client, key) == 200
    async with process(tmp_path, clock, env) as client:
        assert [await call(client, key) for _ in range(2)] == [200, 429]


async def test_old_admissions_are_pruned(tmp_path: Path, openai_fake: FakeServer) -> None:
    clock, env = FakeClock(), vendor_env(openai_fake)
    async with process(tmp_path, clock, env) as client:
        _, (key, _other) = await setup(client, requestsPerMinute=100)
        for _ in range(3):
            assert await call(client, key) == 200
        clock.advance(3600 + 301)  # past the hour, and past the pruning interval
        assert await call(client, key) == 200
        gw: GatewayHarness | Any = client._transport.app.state.gateway  # type: ignore[attr-defined]
        await gw.recorder.flush()
        rows = await gw.runtime.db.all("SELECT admitted_at FROM rate_admissions")
    assert len(rows) == 1

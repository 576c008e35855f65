"""The Durable Object classes only delegate: to a recording stand-in, and to the real core monitor over sqlite D1."""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any, ClassVar

import pytest

import gateway.health.monitor as monitor_module

from . import standins


class RecordingMonitor:
    instances: ClassVar[list[RecordingMonitor]] = []

    def __init__(self, storage: Any, clock: Any, db: Any = None, *, http: Any = None, env: Any = None) -> None:
        self.storage, self.clock, self.db, self.http, self.env = storage, clock, db, http, env
        self.reports: list[Any] = []
        self.alarms = 0
        RecordingMonitor.instances.append(self)

    async def report(self, observations: list[dict[str, Any]]) -> None:
        self.reports.append(observations)
        await self.storage.put("seen", {"count": len(self.reports)})

    async def snapshot(self) -> dict[str, dict[str, Any]]:
        return {"deepgram": {"status": "healthy", "seen": (await self.storage.get("seen"))["count"]}}

    async def on_alarm(self) -> float | None:
        self.alarms += 1
        return 123_000.0 if self.alarms == 1 else None


@pytest.fixture
def recording_monitor(monkeypatch: pytest.MonkeyPatch) -> type[RecordingMonitor]:
    RecordingMonitor.instances = []
    monkeypatch.setattr(monitor_module, "HealthMonitor", RecordingMonitor)
    return RecordingMonitor


async def test_health_object_delegates_and_keeps_an_alarm(sdk, sqlite_conn, recording_monitor):
    import health_do

    state = standins.DurableObjectState()
    env = standins.Env(DB=standins.D1Database(sqlite_conn), DEEPGRAM_API_KEY="dg-key")
    obj = health_do.ProviderHealthMonitor(state, env)
    monitor = recording_monitor.instances[0]
    assert monitor.db is not None
    # Probes get the vendors' variables and a fetch-backed client, like the isolates.
    assert monitor.env == {"DEEPGRAM_API_KEY": "dg-key"} and monitor.http is not None

    batch = [{"provider": "deepgram", "ok": True, "latency_ms": 80.5, "error_class": None, "at": 1}]
    await obj.report(batch)
    assert monitor.reports == [batch]
    assert state.storage.alarm is not None  # the first report starts the alarm chain
    first_alarm = state.storage.alarm
    await obj.report(batch)
    assert state.storage.alarm_history == [first_alarm]  # an existing alarm is left alone

    assert await obj.snapshot() == {"deepgram": {"status": "healthy", "seen": 2}}
    assert state.storage.data["seen"] == '{"count":2}'  # stored as JSON text

    await obj.alarm()
    assert state.storage.alarm == 123_000.0  # re-armed at the time the monitor asked for
    await obj.alarm({"retryCount": 0, "isRetry": False})
    assert state.storage.alarm_history[-1] == 123_000.0  # None from the monitor: not re-armed


async def test_health_object_over_rpc_with_the_real_monitor(sdk, sqlite_conn):
    """Observations cross RPC, land in DO storage, come back in the snapshot; the alarm writes history to D1."""
    import health_do
    from runtimes.workers.d1 import D1Database
    from runtimes.workers.health import DurableObjectHealthService

    env = standins.Env(DB=standins.D1Database(sqlite_conn))
    namespace = standins.DurableObjectNamespace(lambda state: health_do.ProviderHealthMonitor(state, env))
    health = DurableObjectHealthService(namespace)
    await health.report(
        [
            {"provider": "openai", "ok": False, "latency_ms": None, "error_class": "server", "at": 1_000},
            {"provider": "deepgram", "ok": True, "latency_ms": 120.0, "error_class": None, "at": 1_000},
        ]
    )
    snapshot = await health.snapshot()
    assert snapshot["openai"]["status"] in ("degraded", "down") and snapshot["openai"]["consecutiveFailures"] == 1
    assert snapshot["deepgram"]["status"] == "healthy" and snapshot["deepgram"]["latencyMs"] == 120.0

    obj = namespace.objects["global"]
    state = namespace.states["global"]
    await obj.alarm()
    rows = await D1Database(env.DB).all("SELECT provider, status FROM provider_health_status ORDER BY provider")
    assert [r["provider"] for r in rows] == ["deepgram", "openai"]
    assert state.storage.alarm > 1_000

    # A fresh object over the same storage (eviction, restart) sees the same aggregate.
    revived = health_do.ProviderHealthMonitor(state, env)
    assert (await revived.snapshot())["openai"]["consecutiveFailures"] == 1


async def test_health_object_tick_runs_the_periodic_work(sdk, sqlite_conn, recording_monitor):
    import health_do

    state = standins.DurableObjectState()
    obj = health_do.ProviderHealthMonitor(state, standins.Env(DB=standins.D1Database(sqlite_conn)))
    await obj.tick()
    assert recording_monitor.instances[0].alarms == 1 and state.storage.alarm == 123_000.0


class RecordingLimiter:
    instances: ClassVar[list[RecordingLimiter]] = []

    def __init__(self, storage: Any, clock: Any) -> None:
        self.storage, self.clock = storage, clock
        self.released: list[Any] = []
        RecordingLimiter.instances.append(self)

    async def acquire(self, request: dict[str, Any]) -> dict[str, Any]:
        await self.storage.put("active", 1)
        return {"ok": True, "lease": {"id": "l1", "cost": request["estimate"]}, "retryAfter": None}

    async def release(self, lease: dict[str, Any]) -> None:
        self.released.append(lease)


@pytest.fixture
def recording_limiter(monkeypatch: pytest.MonkeyPatch) -> type[RecordingLimiter]:
    """The core's limiter may not exist yet: stand a module in for it either way."""
    RecordingLimiter.instances = []
    try:
        module = importlib.import_module("gateway.limits.limiter")
        monkeypatch.setattr(module, "WorkspaceLimiter", RecordingLimiter)
    except ImportError:
        package = types.ModuleType("gateway.limits")
        package.__path__ = []  # type: ignore[attr-defined]
        module = types.ModuleType("gateway.limits.limiter")
        module.WorkspaceLimiter = RecordingLimiter  # type: ignore[attr-defined]
        package.limiter = module  # type: ignore[attr-defined]
        monkeypatch.setitem(sys.modules, "gateway.limits", package)
        monkeypatch.setitem(sys.modules, "gateway.limits.limiter", module)
    return RecordingLimiter


async def test_limiter_object_relays_payloads_unchanged(sdk, recording_limiter):
    import limits_do

    namespace = standins.DurableObjectNamespace(lambda state: limits_do.WorkspaceLimiter(state, standins.Env()))
    stub = namespace.getByName("ws_123")
    granted = await stub.acquire({"estimate": 0.25, "kind": "tts", "maxConcurrent": None})
    assert granted == {"ok": True, "lease": {"id": "l1", "cost": 0.25}, "retryAfter": None}
    await stub.release(granted["lease"])
    limiter = recording_limiter.instances[0]
    assert limiter.released == [{"id": "l1", "cost": 0.25}]
    assert namespace.states["ws_123"].storage.data["active"] == "1"

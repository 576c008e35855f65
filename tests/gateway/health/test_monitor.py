"""The global aggregate: EMA, statuses, the vendor-wide circuit, persistence, history rows, and active probes against
the vendor fakes on loopback."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from gateway.health.monitor import (
    DOWN_CONSECUTIVE_FAILURES,
    HealthMonitor,
    MemoryStorage,
    VendorHealth,
    run_alarm_loop,
)
from tests.conftest import vendor_env
from tests.fakes.harness import FakeServer, Fault
from tests.gateway.routing.support import FakeClock


def ok(provider: str, latency: float = 100.0, kind: str | None = "tts") -> dict[str, Any]:
    return {"provider": provider, "ok": True, "latency_ms": latency, "error_class": None, "at": 1, "kind": kind}


def bad(provider: str, error: str = "server_error") -> dict[str, Any]:
    return {"provider": provider, "ok": False, "latency_ms": None, "error_class": error, "at": 1}


async def test_ema_error_rate_and_latency_per_kind() -> None:
    monitor = HealthMonitor(MemoryStorage(), FakeClock())  # type: ignore[arg-type]
    await monitor.report([ok("openai", 100.0), ok("openai", 200.0), ok("openai", 50.0, kind="llm"), bad("openai")])
    entry = (await monitor.snapshot())["openai"]
    assert entry["latencyByKind"] == {"tts": 120.0, "llm": 50.0}  # 0.8 * 100 + 0.2 * 200
    assert entry["latencyMs"] == pytest.approx(0.8 * 120 + 0.2 * 50, abs=0.1)
    assert entry["errorRate"] == pytest.approx(0.2)
    assert entry["status"] == "degraded" and entry["error"] == "server_error" and entry["consecutiveFailures"] == 1


async def test_status_and_circuit_transitions() -> None:
    vendor = VendorHealth()
    assert (vendor.status, vendor.circuit) == ("healthy", "closed")
    for _ in range(DOWN_CONSECUTIVE_FAILURES - 1):
        vendor.observe(False, None, "timeout", 1)
    assert vendor.status == "down" and vendor.circuit == "open"  # the error rate crossed 50 % on the 4th
    vendor.observe(True, 90.0, None, 2)
    assert vendor.status == "degraded" and vendor.circuit == "half_open"  # one success lifts "down" at once
    vendor.observe(False, None, "timeout", 3)
    assert vendor.circuit == "open"
    for n in range(3):
        vendor.observe(True, 90.0, None, 4 + n)
    assert vendor.circuit == "closed"
    for n in range(10):
        vendor.observe(True, 90.0, None, 10 + n)
    assert vendor.status == "healthy"


async def test_probe_latency_is_not_taken_for_synthesis_latency() -> None:
    vendor = VendorHealth()
    vendor.observe(True, 30.0, None, 1, kind="probe")
    assert vendor.latency_by_kind == {} and vendor.latency_ms == 30.0


async def test_state_survives_a_restart_and_tolerates_old_fields() -> None:
    storage = MemoryStorage()
    monitor = HealthMonitor(storage, FakeClock())  # type: ignore[arg-type]
    await monitor.report([bad("deepgram")])
    stored = await storage.get(HealthMonitor.STORAGE_KEY)
    stored["deepgram"]["retired_field"] = 1  # written by an older version
    revived = HealthMonitor(storage, FakeClock())  # type: ignore[arg-type]
    assert (await revived.snapshot())["deepgram"]["consecutiveFailures"] == 1


@pytest.fixture
async def db():
    from runtimes.local.runtime import migrations_dir
    from runtimes.local.sqlite_db import SQLiteDatabase

    database = SQLiteDatabase(":memory:")
    await database.apply_migrations(migrations_dir())
    yield database
    await database.close()


async def test_alarm_probes_configured_vendors_and_writes_history(
    db: Any, openai_fake: FakeServer, deepgram_fake: FakeServer
) -> None:
    clock = FakeClock()
    deepgram_fake.state.always(Fault("status", status=503))
    async with httpx.AsyncClient() as http:
        monitor = HealthMonitor(MemoryStorage(), clock, db, http=http, env=vendor_env(openai_fake, deepgram_fake))  # type: ignore[arg-type]
        next_ms = await monitor.on_alarm()
    assert next_ms is not None and next_ms > clock.time() * 1000
    probes = [(r.method, r.path) for r in openai_fake.state.requests]
    assert probes == [("GET", "/v1/models")]  # a model listing, never a synthesis
    assert openai_fake.state.requests[0].headers["authorization"] == "Bearer test-openai-key"
    assert [r.path for r in deepgram_fake.state.requests] == ["/v1/projects"]
    snapshot = await monitor.snapshot()
    assert snapshot["openai"]["status"] == "healthy" and snapshot["openai"]["latencyMs"] is not None
    assert snapshot["openai"]["latencyByKind"] == {}
    assert snapshot["deepgram"]["consecutiveFailures"] == 1 and snapshot["deepgram"]["error"] == "server_error"
    assert not {"elevenlabs", "google", "gemini", "anthropic", "polly", "workers_ai"} & set(
        snapshot
    )  # no key: no probe
    rows = await db.all(
        "SELECT provider, status, circuit FROM provider_health_status WHERE provider IN ('openai', 'deepgram')"
        " ORDER BY provider"
    )
    assert rows == [
        {"provider": "deepgram", "status": "degraded", "circuit": "closed"},
        {"provider": "openai", "status": "healthy", "circuit": "closed"},
    ]
    clock.advance(30)
    async with httpx.AsyncClient() as http:
        monitor.http = http
        await monitor.on_alarm()
    assert len(await db.all("SELECT * FROM provider_health_status")) == len(snapshot)  # history at most once a minute


async def test_a_hanging_probe_times_out_and_counts_as_a_failure(openai_fake: FakeServer) -> None:
    openai_fake.state.always(Fault("hang"))
    async with httpx.AsyncClient() as http:
        monitor = HealthMonitor(MemoryStorage(), FakeClock(), http=http, env=vendor_env(openai_fake),  # type: ignore[arg-type]
                                probe_timeout=0.2)  # fmt: skip
        await monitor.on_alarm()
    assert (await monitor.snapshot())["openai"]["error"] == "timeout"


async def test_without_http_there_are_no_probes() -> None:
    monitor = HealthMonitor(MemoryStorage(), FakeClock(), env={"OPENAI_API_KEY": "k"})  # type: ignore[arg-type]
    assert await monitor.probe() == []


async def test_the_alarm_loop_runs_until_stopped() -> None:
    class Counting(HealthMonitor):
        runs = 0

        async def on_alarm(self) -> float | None:
            self.runs += 1
            if self.runs == 3:
                stop.set()
            return 0.0  # "now": run again at once

    stop = asyncio.Event()
    monitor = Counting(MemoryStorage(), FakeClock())  # type: ignore[arg-type]
    await asyncio.wait_for(run_alarm_loop(monitor, FakeClock(), stop), 2)  # type: ignore[arg-type]
    assert monitor.runs == 3

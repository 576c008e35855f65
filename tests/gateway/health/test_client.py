"""The isolate-side health client: batched reports (also counted through the whole gateway), the trailing flush,
freshness of global "down", and the view strategies get."""

from __future__ import annotations

import asyncio
from typing import Any

from gateway.health.client import GLOBAL_OBSERVATION_FRESH_MS, SNAPSHOT_FRESH_SECONDS, HealthClient
from tests.conftest import make_gateway, vendor_env
from tests.fakes.harness import FakeServer
from tests.gateway.routing.support import FakeClock, RecordingTasks, lift_rate_limits


class CountingService:
    """Wraps a ``HealthService`` and counts the calls the isolate makes to it."""

    def __init__(self, inner: Any = None) -> None:
        self.inner = inner
        self.reports: list[int] = []
        self.snapshots = 0
        self.data: dict[str, dict[str, Any]] = {}

    async def report(self, observations: list[dict[str, Any]]) -> None:
        self.reports.append(len(observations))
        if self.inner is not None:
            await self.inner.report(observations)

    async def snapshot(self) -> dict[str, dict[str, Any]]:
        self.snapshots += 1
        return await self.inner.snapshot() if self.inner is not None else self.data


async def test_two_hundred_requests_cost_at_most_three_reports(
    openai_fake: FakeServer, deepgram_fake: FakeServer
) -> None:
    async for gw in make_gateway({**vendor_env(openai_fake, deepgram_fake), "ATTEMPT_TIMEOUT_SECONDS": "10"}):
        await lift_rate_limits(gw)
        health = gw.gateway.health
        counting = CountingService(health.service)
        health.service = counting
        health.report_delay = 30.0  # the trailing flush must not be what keeps the count low
        gate = asyncio.Semaphore(4)

        async def one(n: int) -> tuple[int, int]:
            async with gate:
                r = await gw.client.post(
                    "/voice/synthesize", json={"text": f"hello {n}", "provider": "deepgram"}, headers=gw.auth()
                )
                return r.status_code, int(r.headers["x-attempts"])

        outcomes = await asyncio.gather(*(one(n) for n in range(200)))
        assert {status for status, _ in outcomes} == {200}
        await gw.settle()
        await health.flush()
        assert sum(counting.reports) == sum(attempts for _, attempts in outcomes)  # every outcome reported...
        assert len(counting.reports) <= 3  # ...in at most three calls (batches of 100)
        assert counting.snapshots <= 2  # and the snapshot is read from the cache, not per request


async def test_a_partial_batch_is_sent_after_the_delay_without_blocking_drain() -> None:
    service = CountingService()
    tasks = RecordingTasks()
    client = HealthClient(service, tasks, FakeClock(), report_delay=0.05)  # type: ignore[arg-type]
    for _ in range(3):
        client.observe("openai", True, 10.0, kind="tts")
    await tasks.drain()
    assert service.reports == []  # nothing sent yet, and nothing waited for
    await asyncio.sleep(0.1)
    await tasks.drain()
    assert service.reports == [3]
    client.observe("openai", True, 10.0)
    await client.flush()  # an explicit flush (shutdown) sends at once and disarms the timer
    assert service.reports == [3, 1]


async def test_a_full_batch_is_sent_at_once() -> None:
    service = CountingService()
    tasks = RecordingTasks()
    client = HealthClient(service, tasks, FakeClock(), report_batch=10, report_delay=60)  # type: ignore[arg-type]
    for _ in range(25):
        client.observe("openai", False, None, "timeout")
    await tasks.drain()
    assert service.reports == [25]  # the flush spawned at 10 ran after all 25 had arrived: one call took them all
    client.observe("openai", True, 1.0)
    await client.flush()
    assert service.reports == [25, 1]


async def test_global_down_counts_only_while_fresh() -> None:
    clock = FakeClock()
    service = CountingService()
    service.data = {"openai": {"status": "down", "lastCheck": clock.time() * 1000},
                    "deepgram": {"status": "degraded", "lastCheck": clock.time() * 1000}}  # fmt: skip
    client = HealthClient(service, RecordingTasks(), clock)  # type: ignore[arg-type]
    assert client.globally_down("openai") is False  # no snapshot yet
    await client.snapshot()
    assert client.globally_down("openai") and not client.globally_down("deepgram")
    assert not client.globally_down("elevenlabs")
    clock.advance(GLOBAL_OBSERVATION_FRESH_MS / 1000 + 1)
    client._fetched_at = clock.monotonic()  # a fresh snapshot, but nobody observed the vendor for a while
    assert not client.globally_down("openai")
    service.data["openai"]["lastCheck"] = clock.time() * 1000
    await client._refresh()
    assert client.globally_down("openai")
    service.snapshot = None  # type: ignore[assignment]  # the health service stops answering
    clock.advance(SNAPSHOT_FRESH_SECONDS + 1)
    assert not client.globally_down("openai")  # an old snapshot is not trusted


async def test_routing_view_fills_latency_gaps_with_this_isolates_own() -> None:
    clock = FakeClock()
    service = CountingService()
    service.data = {"openai": {"status": "healthy", "latencyMs": 80.0, "latencyByKind": {"tts": 300.0}}}
    client = HealthClient(service, RecordingTasks(), clock)  # type: ignore[arg-type]
    await client.snapshot()
    client.observe("openai", True, 999.0, kind="tts")
    client.observe("openai", True, 100.0, kind="llm")
    client.observe("deepgram", True, 200.0, kind="tts")
    view = client.routing_view()
    assert view["openai"]["latencyByKind"] == {"tts": 300.0, "llm": 100.0}  # the global figure wins where known
    assert view["deepgram"]["latencyByKind"] == {"tts": 200.0}
    assert service.data["openai"]["latencyByKind"] == {"tts": 300.0}  # the cached snapshot is not modified
    await client.flush()

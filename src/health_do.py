"""``ProviderHealthMonitor``: the global vendor-health Durable Object. Only delegation to the core's monitor."""

from __future__ import annotations

from typing import Any

from workers import DurableObject

# Imported at module import, not in __init__: Workers snapshot the import phase, so the object's first event does
# not pay for them.
from gateway.health.monitor import HealthMonitor
from gateway.ports import SystemClock
from providers.vendor_client import VendorClient
from runtimes.workers.convert import to_python
from runtimes.workers.d1 import D1Database
from runtimes.workers.do_storage import DurableObjectStorage
from runtimes.workers.http_transport import WorkersFetchTransport
from runtimes.workers.runtime import string_vars


class ProviderHealthMonitor(DurableObject):
    def __init__(self, ctx: Any, env: Any) -> None:
        super().__init__(ctx, env)
        self.clock = SystemClock()
        # Probes need the vendors' keys and base URLs (the same vars the isolates read) and a fetch-backed client.
        self.monitor = HealthMonitor(
            DurableObjectStorage(ctx.storage),
            self.clock,
            db=D1Database(env.DB),
            http=VendorClient(WorkersFetchTransport()),
            env=string_vars(env),
        )

    async def report(self, observations: Any) -> None:
        await self.monitor.report(to_python(observations) or [])
        await self._ensure_alarm()

    async def snapshot(self) -> dict[str, dict[str, Any]]:
        return await self.monitor.snapshot()

    async def tick(self) -> None:
        """Called by the cron trigger: do the periodic work now and re-arm the alarm."""
        await self._schedule(await self.monitor.on_alarm())

    async def alarm(self, alarm_info: Any = None) -> None:
        await self._schedule(await self.monitor.on_alarm())

    async def _schedule(self, next_ms: float | None) -> None:
        if next_ms:
            await self.ctx.storage.setAlarm(next_ms)

    async def _ensure_alarm(self) -> None:
        # Alarms are the object's only timer (no setTimeout survives eviction); the first report starts the chain.
        if to_python(await self.ctx.storage.getAlarm()) is None:
            await self.ctx.storage.setAlarm(int(self.clock.time() * 1000))

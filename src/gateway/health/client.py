"""The isolate's view of vendor health: a briefly cached snapshot, and observations reported in batches.

No request waits on the health service: reads come from the cache (refreshed in the background when stale) and
writes are buffered and flushed after the response.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from gateway.ports import BackgroundTasks, Clock, HealthService

log = logging.getLogger("gateway.health")

SNAPSHOT_TTL_SECONDS = 5.0
REPORT_BATCH_SIZE = 100
REPORT_DELAY_SECONDS = 1.0


class HealthClient:
    def __init__(self, service: HealthService, tasks: BackgroundTasks, clock: Clock) -> None:
        self.service = service
        self.tasks = tasks
        self.clock = clock
        self._snapshot: dict[str, dict[str, Any]] = {}
        self._fetched_at: float | None = None
        self._refreshing = False
        self._pending: list[dict[str, Any]] = []
        self._flush_scheduled = False
        self.reports_sent = 0  # batches sent to the service (observable in tests)

    def observe(self, provider: str, ok: bool, latency_ms: float | None, error_class: str | None = None) -> None:
        self._pending.append(
            {"provider": provider, "ok": ok, "latency_ms": latency_ms, "error_class": error_class,
             "at": int(self.clock.time() * 1000)}
        )
        if len(self._pending) >= REPORT_BATCH_SIZE:
            self.tasks.spawn(self.flush())
        elif not self._flush_scheduled:
            self._flush_scheduled = True
            self.tasks.spawn(self._flush_later())

    async def _flush_later(self) -> None:
        await asyncio.sleep(REPORT_DELAY_SECONDS)
        self._flush_scheduled = False
        await self.flush()

    async def flush(self) -> None:
        batch, self._pending = self._pending, []
        if not batch:
            return
        try:
            await self.service.report(batch)
            self.reports_sent += 1
        except Exception:
            log.warning("health report failed; %d observations dropped", len(batch), exc_info=True)

    def cached(self) -> dict[str, dict[str, Any]]:
        """The last snapshot, refreshed in the background when older than the TTL (never awaited here)."""
        now = self.clock.monotonic()
        stale = self._fetched_at is None or now - self._fetched_at > SNAPSHOT_TTL_SECONDS
        if stale and not self._refreshing:
            self._refreshing = True
            self.tasks.spawn(self._refresh())
        return self._snapshot

    async def snapshot(self) -> dict[str, dict[str, Any]]:
        """A fresh-enough snapshot, awaited (for the health endpoints, not the request path)."""
        now = self.clock.monotonic()
        if self._fetched_at is None or now - self._fetched_at > SNAPSHOT_TTL_SECONDS:
            await self._refresh()
        return self._snapshot

    async def _refresh(self) -> None:
        try:
            self._snapshot = await self.service.snapshot()
            self._fetched_at = self.clock.monotonic()
        except Exception:
            log.warning("health snapshot failed; keeping the previous one", exc_info=True)
        finally:
            self._refreshing = False

"""The isolate's view of vendor health: a briefly cached snapshot, and observations reported in batches.

No request waits on the health service: reads come from the cache (refreshed in the background when stale) and
writes are buffered and sent as one ``report`` per batch (when ``report_batch`` observations are waiting, or
``report_delay`` seconds after the first of them), after the response.

Streaming code reports time to first byte through :meth:`HealthClient.observe` (the failover loop already does when
its attempt returns at the first chunk, as ``llm.open_stream`` does).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from typing import Any

from gateway.ports import BackgroundTasks, Clock, HealthService

log = logging.getLogger("gateway.health")

SNAPSHOT_TTL_SECONDS = 5.0
REPORT_BATCH_SIZE = 100
REPORT_DELAY_SECONDS = 1.0
# Global "down" is trusted for routing only while it is recent: the snapshot fetched within this long, and the
# vendor observed (by some isolate or a probe) within GLOBAL_OBSERVATION_FRESH_MS.
SNAPSHOT_FRESH_SECONDS = 60.0
GLOBAL_OBSERVATION_FRESH_MS = 120_000
LOCAL_LATENCY_ALPHA = 0.2


class HealthClient:
    def __init__(
        self,
        service: HealthService,
        tasks: BackgroundTasks,
        clock: Clock,
        *,
        report_batch: int = REPORT_BATCH_SIZE,
        report_delay: float = REPORT_DELAY_SECONDS,
        timers_end_with_request: bool = False,
    ) -> None:
        self.service = service
        self.tasks = tasks
        self.clock = clock
        self.report_batch = report_batch
        self.report_delay = report_delay
        self._snapshot: dict[str, dict[str, Any]] = {}
        self._fetched_at: float | None = None
        self._refreshing = False
        self._pending: list[dict[str, Any]] = []
        self._timer: asyncio.TimerHandle | None = None  # the trailing flush for a batch that is not full yet
        # On Workers a timer belongs to the request that set it and I/O outside a live request is refused, so there
        # the trailing flush is background work of the request that starts the batch (kept alive by its waitUntil).
        self._timers_end_with_request = timers_end_with_request
        self._flush_scheduled = False
        # This isolate's own latency EMA per (vendor, kind): used until the global snapshot knows the vendor.
        self._local_latency: dict[tuple[str, str], float] = {}
        self.reports_sent = 0  # batches sent to the service (observable in tests)

    # -- observations --------------------------------------------------------------------------------------------
    def observe(
        self, provider: str, ok: bool, latency_ms: float | None, error_class: str | None = None, kind: str | None = None
    ) -> None:
        """One outcome. ``kind`` is what was asked ("tts", "stt", "llm"; "probe"): latency is compared per kind."""
        observation: dict[str, Any] = {
            "provider": provider, "ok": ok, "latency_ms": latency_ms, "error_class": error_class,
            "at": int(self.clock.time() * 1000),
        }  # fmt: skip
        if kind:
            observation["kind"] = kind
            if ok and latency_ms is not None:
                key = (provider, kind)
                previous = self._local_latency.get(key)
                self._local_latency[key] = (
                    latency_ms
                    if previous is None
                    else ((1 - LOCAL_LATENCY_ALPHA) * previous + LOCAL_LATENCY_ALPHA * latency_ms)
                )
        self._pending.append(observation)
        if len(self._pending) >= self.report_batch:
            self.tasks.spawn(self.flush())
        elif self._timer is None:
            self._arm_timer()

    def _arm_timer(self) -> None:
        # A loop timer rather than a sleeping background task: nothing (a test's drain, a Worker's waitUntil) has
        # to wait out the delay; the flush itself runs as background work once the timer fires. It fires in a fresh
        # context: the request that armed it is long over and must not be asked to keep the isolate alive.
        if self._timers_end_with_request:
            if not self._flush_scheduled:
                self._flush_scheduled = True
                self.tasks.spawn(self._flush_after_delay())
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._timer = loop.call_later(self.report_delay, self._timer_fired, context=contextvars.Context())

    async def _flush_after_delay(self) -> None:
        await asyncio.sleep(self.report_delay)
        self._flush_scheduled = False
        await self.flush()

    def _timer_fired(self) -> None:
        self._timer = None
        if self._pending:
            self.tasks.spawn(self.flush())

    async def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()  # the next observation arms a new one
            self._timer = None
        batch, self._pending = self._pending, []
        if not batch:
            return
        try:
            await self.service.report(batch)
            self.reports_sent += 1
        except Exception:
            log.warning("health report failed; %d observations dropped", len(batch), exc_info=True)

    # -- the global snapshot -------------------------------------------------------------------------------------
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

    def globally_down(self, provider: str) -> bool:
        """The global aggregate says "down", and both it and the vendor's last observation are recent."""
        entry = self.cached().get(provider)
        if not entry or entry.get("status") != "down" or self._fetched_at is None:
            return False
        if self.clock.monotonic() - self._fetched_at > SNAPSHOT_FRESH_SECONDS:
            return False
        last_check = entry.get("lastCheck")
        now_ms = self.clock.time() * 1000
        return isinstance(last_check, (int, float)) and now_ms - last_check <= GLOBAL_OBSERVATION_FRESH_MS

    def routing_view(self) -> dict[str, dict[str, Any]]:
        """What strategies see (read only): the global snapshot, with this isolate's own latencies filling in per-kind
        gaps. Runs on every routed request, so only the entries that get a gap filled are copied (copying every
        entry cost more than the rest of the routing decision)."""
        view = dict(self.cached())
        filled: set[str] = set()  # entries already copied out of the snapshot
        for (provider, kind), latency in self._local_latency.items():
            entry = view.get(provider) or {}
            if kind in (entry.get("latencyByKind") or {}):
                continue  # the global figure wins
            if provider not in filled:
                filled.add(provider)
                entry = view[provider] = {**entry, "latencyByKind": dict(entry.get("latencyByKind") or {})}
            entry["latencyByKind"][kind] = round(latency, 1)
        return view

"""The global health aggregate. Runs inside the ``ProviderHealthMonitor`` Durable Object on Workers and in-process
locally; it only sees a tiny key-value storage port, a clock and (optionally) the database for history rows.

Observations arrive in batches from every isolate. Per vendor it keeps an exponentially weighted error rate and
latency and the count of consecutive failures, and derives a status: healthy, degraded or down.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Protocol

from gateway.ports import Clock, Database

EMA_ALPHA = 0.2  # weight of the newest observation
DEGRADED_ERROR_RATE = 0.2
DOWN_ERROR_RATE = 0.5
DOWN_CONSECUTIVE_FAILURES = 5
HISTORY_INTERVAL_MS = 60_000


class MonitorStorage(Protocol):
    async def get(self, key: str) -> Any | None: ...

    async def put(self, key: str, value: Any) -> None: ...


class MemoryStorage:
    def __init__(self) -> None:
        self._data: dict[str, Any] = {}

    async def get(self, key: str) -> Any | None:
        return self._data.get(key)

    async def put(self, key: str, value: Any) -> None:
        self._data[key] = value


@dataclass
class VendorHealth:
    error_rate: float = 0.0
    latency_ms: float | None = None
    consecutive_failures: int = 0
    observations: int = 0
    last_check: int = 0
    last_error: str | None = None

    @property
    def status(self) -> str:
        if self.consecutive_failures >= DOWN_CONSECUTIVE_FAILURES or self.error_rate >= DOWN_ERROR_RATE:
            return "down"
        if self.error_rate >= DEGRADED_ERROR_RATE or self.consecutive_failures > 0:
            return "degraded"
        return "healthy"

    def observe(self, ok: bool, latency_ms: float | None, error: str | None, at: int) -> None:
        self.observations += 1
        self.error_rate = (1 - EMA_ALPHA) * self.error_rate + EMA_ALPHA * (0.0 if ok else 1.0)
        if ok and latency_ms is not None:
            self.latency_ms = latency_ms if self.latency_ms is None else (
                (1 - EMA_ALPHA) * self.latency_ms + EMA_ALPHA * latency_ms
            )
        self.consecutive_failures = 0 if ok else self.consecutive_failures + 1
        if not ok:
            self.last_error = error
        self.last_check = max(self.last_check, at)

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "errorRate": round(self.error_rate, 4),
            "latencyMs": None if self.latency_ms is None else round(self.latency_ms, 1),
            "lastCheck": self.last_check,
            "consecutiveFailures": self.consecutive_failures,
            **({"error": self.last_error} if self.last_error and self.status != "healthy" else {}),
        }


class HealthMonitor:
    STORAGE_KEY = "vendors"

    def __init__(self, storage: MonitorStorage, clock: Clock, db: Database | None = None) -> None:
        self.storage = storage
        self.clock = clock
        self.db = db
        self._vendors: dict[str, VendorHealth] | None = None
        self._last_history = 0

    async def _load(self) -> dict[str, VendorHealth]:
        if self._vendors is None:
            stored = await self.storage.get(self.STORAGE_KEY) or {}
            self._vendors = {name: VendorHealth(**value) for name, value in stored.items()}
        return self._vendors

    async def report(self, observations: list[dict[str, Any]]) -> None:
        vendors = await self._load()
        now = int(self.clock.time() * 1000)
        for obs in observations:
            provider = str(obs.get("provider") or "")
            if not provider:
                continue
            vendors.setdefault(provider, VendorHealth()).observe(
                ok=bool(obs.get("ok")),
                latency_ms=obs.get("latency_ms"),
                error=obs.get("error_class"),
                at=int(obs.get("at") or now),
            )
        await self.storage.put(self.STORAGE_KEY, {k: asdict(v) for k, v in vendors.items()})

    async def snapshot(self) -> dict[str, dict[str, Any]]:
        return {name: v.to_json() for name, v in (await self._load()).items()}

    async def on_alarm(self) -> float | None:
        """Periodic work: write a history row per vendor. Returns when to run next (epoch ms)."""
        now = int(self.clock.time() * 1000)
        if self.db is not None and now - self._last_history >= HISTORY_INTERVAL_MS:
            vendors = await self._load()
            statements = [
                (
                    "INSERT INTO provider_health_status (provider, status, error_rate, latency_ms, circuit, error,"
                    " checked_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (name, v.status, v.error_rate, v.latency_ms, "open" if v.status == "down" else "closed",
                     v.last_error, now),
                )
                for name, v in vendors.items()
            ]
            if statements:
                await self.db.batch(statements)
            self._last_history = now
        return now + HISTORY_INTERVAL_MS


class InProcessHealthService:
    """The local runtime's ``HealthService``: the same monitor, no Durable Object in between."""

    def __init__(self, monitor: HealthMonitor) -> None:
        self.monitor = monitor

    async def report(self, observations: list[dict[str, Any]]) -> None:
        await self.monitor.report(observations)

    async def snapshot(self) -> dict[str, dict[str, Any]]:
        return await self.monitor.snapshot()

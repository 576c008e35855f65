"""The global health aggregate. Runs inside the ``ProviderHealthMonitor`` Durable Object on Workers and in-process
locally; it sees a tiny key-value storage port, a clock, optionally the database (history rows) and, for active
probes, an ``httpx.AsyncClient`` and the environment (which vendors are configured, with which keys).

Observations arrive in batches from every isolate. Per vendor it keeps an exponentially weighted error rate and
latency (overall and per kind: tts / stt / llm), the count of consecutive failures, and derives a status and a
vendor-wide circuit:

    healthy    error rate < 20 % and the last outcome succeeded
    degraded   error rate ≥ 20 %, or the last outcome failed
    down       5 consecutive failures, or error rate ≥ 50 % with the last outcome failed
               (one success lifts "down" at once: isolates then try the vendor again and their breakers decide)

    circuit    closed → open when the vendor goes down; open → half_open on the first success after that;
               half_open → closed after 3 successes in a row (→ open again on a failure)
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Protocol

import httpx

from gateway.errors import HEALTH_FAILURES, ErrorClass, ProviderError
from gateway.ports import Clock, Database

log = logging.getLogger("gateway.health")

EMA_ALPHA = 0.2  # weight of the newest observation
DEGRADED_ERROR_RATE = 0.2
DOWN_ERROR_RATE = 0.5
DOWN_CONSECUTIVE_FAILURES = 5
CLOSE_AFTER_SUCCESSES = 3
HISTORY_INTERVAL_MS = 60_000
PROBE_INTERVAL_MS = 30_000
PROBE_TIMEOUT_SECONDS = 5.0
PROBE_KIND = "probe"


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


def _ema(previous: float | None, value: float) -> float:
    return value if previous is None else (1 - EMA_ALPHA) * previous + EMA_ALPHA * value


@dataclass
class VendorHealth:
    error_rate: float = 0.0
    latency_ms: float | None = None
    consecutive_failures: int = 0
    consecutive_successes: int = 0
    observations: int = 0
    last_check: int = 0
    last_error: str | None = None
    circuit: str = "closed"
    latency_by_kind: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_stored(cls, value: Mapping[str, Any]) -> VendorHealth:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in value.items() if k in known})  # tolerate fields added or dropped later

    @property
    def status(self) -> str:
        last_failed = self.consecutive_failures > 0
        if self.consecutive_failures >= DOWN_CONSECUTIVE_FAILURES or (
            last_failed and self.error_rate >= DOWN_ERROR_RATE
        ):
            return "down"
        if self.error_rate >= DEGRADED_ERROR_RATE or last_failed:
            return "degraded"
        return "healthy"

    def observe(self, ok: bool, latency_ms: float | None, error: str | None, at: int, kind: str | None = None) -> None:
        self.observations += 1
        self.error_rate = _ema(self.error_rate, 0.0 if ok else 1.0)
        if ok and latency_ms is not None:
            self.latency_ms = _ema(self.latency_ms, float(latency_ms))
            if kind and kind != PROBE_KIND:  # a probe's latency says nothing about how long synthesis takes
                self.latency_by_kind[kind] = _ema(self.latency_by_kind.get(kind), float(latency_ms))
        if ok:
            self.consecutive_failures = 0
            self.consecutive_successes += 1
        else:
            self.consecutive_failures += 1
            self.consecutive_successes = 0
            self.last_error = error
        self.last_check = max(self.last_check, at)
        self._move_circuit(ok)

    def _move_circuit(self, ok: bool) -> None:
        if self.status == "down":
            self.circuit = "open"
        elif self.circuit == "open" and ok:
            self.circuit = "half_open"
        elif self.circuit == "half_open":
            if not ok:
                self.circuit = "open"
            elif self.consecutive_successes >= CLOSE_AFTER_SUCCESSES:
                self.circuit = "closed"

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "errorRate": round(self.error_rate, 4),
            "latencyMs": None if self.latency_ms is None else round(self.latency_ms, 1),
            "latencyByKind": {k: round(v, 1) for k, v in self.latency_by_kind.items()},
            "lastCheck": self.last_check,
            "consecutiveFailures": self.consecutive_failures,
            "circuit": self.circuit,
            **({"error": self.last_error} if self.last_error and self.status != "healthy" else {}),
        }


class HealthMonitor:
    STORAGE_KEY = "vendors"

    def __init__(
        self,
        storage: MonitorStorage,
        clock: Clock,
        db: Database | None = None,
        *,
        http: httpx.AsyncClient | None = None,
        env: Mapping[str, str] | None = None,
        bindings: Mapping[str, Any] | None = None,
        probe_interval_ms: int = PROBE_INTERVAL_MS,
        probe_timeout: float = PROBE_TIMEOUT_SECONDS,
    ) -> None:
        self.storage = storage
        self.clock = clock
        self.db = db
        self.http = http
        self.env = env or {}
        self.bindings = bindings or {}
        self.probe_interval_ms = probe_interval_ms
        self.probe_timeout = probe_timeout
        self._vendors: dict[str, VendorHealth] | None = None
        self._last_history = 0

    async def _load(self) -> dict[str, VendorHealth]:
        if self._vendors is None:
            stored = await self.storage.get(self.STORAGE_KEY) or {}
            self._vendors = {name: VendorHealth.from_stored(value) for name, value in stored.items()}
        return self._vendors

    async def report(self, observations: list[dict[str, Any]]) -> None:
        vendors = await self._load()
        now = int(self.clock.time() * 1000)
        for obs in observations:
            provider = str(obs.get("provider") or "")
            if not provider:
                continue
            latency = obs.get("latency_ms")
            vendors.setdefault(provider, VendorHealth()).observe(
                ok=bool(obs.get("ok")),
                latency_ms=latency if isinstance(latency, (int, float)) else None,
                error=obs.get("error_class"),
                at=int(obs.get("at") or now),
                kind=obs.get("kind"),
            )
        await self.storage.put(self.STORAGE_KEY, {k: asdict(v) for k, v in vendors.items()})

    async def snapshot(self) -> dict[str, dict[str, Any]]:
        return {name: v.to_json() for name, v in (await self._load()).items()}

    async def on_alarm(self) -> float | None:
        """Periodic work: probe the configured vendors, write a history row per vendor (at most once a minute).
        Returns when to run next (epoch ms)."""
        probes = await self.probe()
        if probes:
            await self.report(probes)
        now = int(self.clock.time() * 1000)
        if self.db is not None and now - self._last_history >= HISTORY_INTERVAL_MS:
            await self._write_history(now)
            self._last_history = now
        return now + min(self.probe_interval_ms, HISTORY_INTERVAL_MS)

    async def _write_history(self, now: int) -> None:
        assert self.db is not None
        statements = [
            (
                "INSERT INTO provider_health_status (provider, status, error_rate, latency_ms, circuit, error,"
                " checked_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (name, v.status, v.error_rate, v.latency_ms, v.circuit, v.last_error, now),
            )
            for name, v in (await self._load()).items()
        ]
        if statements:
            await self.db.batch(statements)

    async def probe(self) -> list[dict[str, Any]]:
        """One cheap authenticated call per vendor configured by the environment (``Provider.probe``: listing
        models or voices, never synthesizing user text), concurrently. Vendors without a probe are left out."""
        if self.http is None:
            return []
        from providers import PROVIDER_IDS, get_provider  # adapters load only when probes run

        targets = []
        for provider_id in PROVIDER_IDS:
            try:
                provider = get_provider(provider_id)
            except Exception:  # not importable on this runtime (e.g. the local engine on the edge)
                continue
            credentials = provider.credentials_from_env(self.env)
            # Keyed vendors only: the built-in engine needs no authenticated check and is observed by its use.
            if credentials is not None and credentials.api_key:
                targets.append((provider, credentials))
        results = await asyncio.gather(*(self._probe_one(p, c) for p, c in targets))
        return [r for r in results if r is not None]

    async def _probe_one(self, provider: Any, credentials: Any) -> dict[str, Any] | None:
        from providers.base import Call

        call = Call(http=self.http, credentials=credentials, timeout=self.probe_timeout, bindings=self.bindings)  # type: ignore[arg-type]
        started = self.clock.monotonic()
        error: ErrorClass | None = None
        try:
            await asyncio.wait_for(provider.probe(call), self.probe_timeout)
        except ProviderError as exc:
            if exc.error_class == ErrorClass.UNSUPPORTED:
                return None  # no probe for this vendor: passive observations only
            error = exc.error_class
        except TimeoutError:
            error = ErrorClass.TIMEOUT
        except Exception:  # a probe bug must not stop the alarm
            log.warning("probe of %s raised unexpectedly", provider.id, exc_info=True)
            error = ErrorClass.SERVER
        if error is not None and error not in HEALTH_FAILURES:
            return None  # e.g. a 429 on the probe: says nothing about the vendor being up or down
        latency_ms = (self.clock.monotonic() - started) * 1000
        return {
            "provider": provider.id, "ok": error is None, "latency_ms": latency_ms if error is None else None,
            "error_class": error.value if error else None, "at": int(self.clock.time() * 1000), "kind": PROBE_KIND,
        }  # fmt: skip


class InProcessHealthService:
    """The local runtime's ``HealthService``: the same monitor, no Durable Object in between."""

    def __init__(self, monitor: HealthMonitor) -> None:
        self.monitor = monitor

    async def report(self, observations: list[dict[str, Any]]) -> None:
        await self.monitor.report(observations)

    async def snapshot(self) -> dict[str, dict[str, Any]]:
        return await self.monitor.snapshot()


async def run_alarm_loop(monitor: HealthMonitor, clock: Clock, stop: asyncio.Event) -> None:
    """The local runtime's stand-in for the Durable Object alarm: run ``on_alarm`` whenever it asks, until
    ``stop`` is set. Errors are logged and the loop carries on (like an alarm retry)."""
    while not stop.is_set():
        try:
            next_ms = await monitor.on_alarm()
        except Exception:
            log.warning("health alarm failed", exc_info=True)
            next_ms = None
        delay = PROBE_INTERVAL_MS / 1000 if next_ms is None else max(0.0, next_ms / 1000 - clock.time())
        try:
            await asyncio.wait_for(stop.wait(), delay)
        except TimeoutError:
            pass

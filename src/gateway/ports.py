"""The ports: the only ways the core touches the outside world.

The core never imports `js`, `pyodide` or `workers`. Each runtime (``runtimes.local`` on CPython,
``runtimes.workers`` inside a Python Worker) hands ``create_app`` a :class:`Runtime` whose members implement these
small protocols. Tests hand it in-memory or SQLite-backed ones.
"""

from __future__ import annotations

import sys
import time as _time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

Row = dict[str, Any]
Statement = tuple[str, Sequence[Any]]


@dataclass(frozen=True)
class RunResult:
    """What D1's ``.run()`` reports in ``meta``."""

    changes: int
    last_row_id: int | None


# D1 binds numbers as JavaScript doubles and SQLite integers are 64-bit: an integer from a client (a cursor, a time)
# must be within this bound before it reaches a query, else the binding fails (an internal error, not a 400).
MAX_BOUND_INTEGER = 2**53 - 1


class Database(Protocol):
    """A D1-shaped database: SQLite SQL, ``?`` placeholders, rows as dicts.

    D1 is SQLite, so the same ``migrations/*.sql`` and the same queries run on both runtimes.
    """

    async def all(self, sql: str, *params: Any) -> list[Row]: ...

    async def first(self, sql: str, *params: Any) -> Row | None: ...

    async def run(self, sql: str, *params: Any) -> RunResult: ...

    async def batch(self, statements: Sequence[Statement]) -> list[RunResult]:
        """Run the statements atomically, in order (D1 ``batch``: all succeed or none do)."""
        ...


class KeyValue(Protocol):
    """A KV namespace: string values, optional expiry in seconds."""

    async def get(self, key: str) -> str | None: ...

    async def put(self, key: str, value: str, ttl_seconds: int | None = None) -> None: ...

    async def delete(self, key: str) -> None: ...

    async def list(self, prefix: str = "") -> list[str]: ...


class HealthService(Protocol):
    """The global vendor-health aggregate (a Durable Object on Workers, in-process locally).

    Callers never pay one round trip per request: ``gateway.health`` caches ``snapshot`` and batches ``report``.
    """

    async def report(self, observations: list[dict[str, Any]]) -> None: ...

    async def snapshot(self) -> dict[str, dict[str, Any]]: ...


class Clock(Protocol):
    def time(self) -> float:
        """Wall-clock seconds since the epoch (for storage and billing periods)."""
        ...

    def monotonic(self) -> float:
        """Seconds on a monotonic clock (for durations, breakers and caches)."""
        ...


class BackgroundTasks(Protocol):
    """Runs work after the response (``ctx.waitUntil`` on Workers, a tracked task locally)."""

    def spawn(self, work: Awaitable[Any]) -> None: ...

    async def drain(self) -> None:
        """Wait for everything spawned so far (shutdown, tests)."""
        ...


class UpstreamWebSocket(Protocol):
    """One open WebSocket to a vendor."""

    async def send_text(self, data: str) -> None: ...

    async def send_bytes(self, data: bytes) -> None: ...

    async def receive(self) -> str | bytes:
        """The next message; raises ``UpstreamClosed`` when the socket closes."""
        ...

    async def close(self, code: int = 1000) -> None: ...


class WebSocketOpener(Protocol):
    async def __call__(self, url: str, headers: Mapping[str, str], timeout: float) -> UpstreamWebSocket: ...


class UpstreamClosed(Exception):
    def __init__(self, code: int | None, reason: str = "") -> None:
        super().__init__(f"upstream websocket closed ({code}) {reason}".strip())
        self.code = code
        self.reason = reason


class SystemClock:
    def time(self) -> float:
        return _time.time()

    def monotonic(self) -> float:
        return _time.monotonic()


def print_line(line: str) -> None:
    """One line on stdout, written at once (on Workers each becomes one ``console.log`` entry in Workers Logs)."""
    sys.stdout.write(line + "\n")


@dataclass
class Runtime:
    """Everything a runtime gives the core. Built by ``runtimes.local`` or ``runtimes.workers``."""

    db: Database
    kv: KeyValue
    health: HealthService
    http: httpx.AsyncClient
    tasks: BackgroundTasks
    env: Mapping[str, str]
    clock: Clock = field(default_factory=SystemClock)
    open_websocket: WebSocketOpener | None = None
    # AES-GCM/HKDF for sealing vendor keys (gateway.secrets_box.Cipher); without one, keys cannot be stored.
    cipher: Any | None = None
    # Where the request log's JSON lines go (the local runtime batches them: a write per line cost a system call).
    write_log_line: Callable[[str], None] = print_line
    # Runtime-specific extras the core may use when present (e.g. the Workers AI binding); never required.
    extras: dict[str, Any] = field(default_factory=dict)
    on_close: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

"""Test doubles for the limits: a settable clock, a usage store with fixed month-to-date figures, background tasks
that run on the loop, and a Durable Object stub that calls the real core limiter (JSON round trip included)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from gateway.limits.limiter import WorkspaceLimiter


class FakeClock:
    def __init__(self, wall: float = 1_767_225_600.0) -> None:  # 2026-01-01T00:00:00Z
        self.wall = wall
        self.mono = 1000.0

    def time(self) -> float:
        return self.wall

    def monotonic(self) -> float:
        return self.mono

    def advance(self, seconds: float) -> None:
        self.wall += seconds
        self.mono += seconds


class FixedUsage:
    def __init__(self, spent_micros: int = 0, audio_seconds: float = 0.0) -> None:
        self.spent = spent_micros
        self.audio = audio_seconds
        self.loads = 0

    async def spent_micros(self, workspace_id: str, period: str) -> tuple[int, float]:
        self.loads += 1
        await asyncio.sleep(0)  # a real store yields to the loop here
        return self.spent, self.audio


class LoopTasks:
    def __init__(self) -> None:
        self.pending: set[asyncio.Task[Any]] = set()

    def spawn(self, work: Any) -> None:
        task = asyncio.ensure_future(work)
        self.pending.add(task)
        task.add_done_callback(self.pending.discard)

    async def drain(self) -> None:
        while self.pending:
            await asyncio.gather(*list(self.pending))


class MemoryStorage:
    def __init__(self) -> None:
        self.data: dict[str, Any] = {}

    async def get(self, key: str) -> Any | None:
        await asyncio.sleep(0)
        return self.data.get(key)

    async def put(self, key: str, value: Any) -> None:
        self.data[key] = json.loads(json.dumps(value))  # what a Durable Object stores: JSON, nothing shared


class LimiterStub:
    """Workers RPC stand-in: payloads cross as JSON, each call takes a loop turn, and it counts the calls."""

    def __init__(self, limiter: WorkspaceLimiter) -> None:
        self.limiter = limiter
        self.acquires = 0
        self.releases: list[dict[str, Any]] = []

    async def acquire(self, request: dict[str, Any]) -> dict[str, Any]:
        self.acquires += 1
        await asyncio.sleep(0)
        return json.loads(json.dumps(await self.limiter.acquire(json.loads(json.dumps(request)))))

    async def release(self, lease: dict[str, Any]) -> None:
        self.releases.append(lease)
        await asyncio.sleep(0)
        await self.limiter.release(json.loads(json.dumps(lease)))

"""Small stand-ins for routing and health tests: a clock the test moves, candidates on fixed inputs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gateway.routing.breaker import key_fingerprint
from gateway.routing.directory import Candidate
from providers import get_provider
from providers.base import Capability, Credentials


@dataclass
class FakeClock:
    """``gateway.ports.Clock`` whose time only moves when the test says so."""

    now: float = 1_700_000_000.0
    mono: float = 1000.0

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.mono

    def advance(self, seconds: float) -> None:
        self.now += seconds
        self.mono += seconds


def candidate(
    provider_id: str, *, priority: int = 100, key: str | None = "sk-test", source: str = "env",
    capability: Capability | None = Capability.TTS,
) -> Candidate:  # fmt: skip
    return Candidate(
        provider=get_provider(provider_id),
        credentials=Credentials(api_key=key, base_url="http://127.0.0.1:9"),
        priority=priority,
        source=source,
        config={},
        fingerprint=key_fingerprint(key),
        capability=capability,
    )


@dataclass
class RecordingTasks:
    """``BackgroundTasks`` that runs spawned work as tasks and lets the test wait for all of it."""

    spawned: list[Any] = field(default_factory=list)

    def spawn(self, work: Any) -> None:
        import asyncio

        self.spawned.append(asyncio.ensure_future(work))

    async def drain(self) -> None:
        import asyncio

        while self.spawned:
            batch, self.spawned = self.spawned, []
            await asyncio.gather(*batch)


async def lift_rate_limits(gw: Any) -> None:
    """Load tests send far more than the default 60 requests a minute; the limits are not what they test."""
    r = await gw.client.patch(
        f"/admin/workspaces/{gw.workspace_id}",
        json={"limits": {"requestsPerMinute": 1_000_000, "requestsPerHour": 100_000_000}},
        headers=gw.admin,
    )
    assert r.status_code == 200, r.text

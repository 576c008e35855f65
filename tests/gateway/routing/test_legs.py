"""Realtime legs through the attempt planner: the real FailoverRunner's breakers, cool-downs and failover rows, a
fake clock, legs as (candidate, route name) pairs — no network."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gateway.errors import ErrorClass, ProviderError
from gateway.routing.breaker import CLOSED, HALF_OPEN, OPEN, Admission
from gateway.routing.legs import LegPlan
from tests.gateway.routing.support import FakeClock, candidate
from tests.gateway.routing.test_failover import Snapshot, runner


@dataclass(frozen=True)
class FakeLeg:
    candidate: Any
    route: str

    @property
    def provider_id(self) -> str:
        return str(self.candidate.id)


def legs(*spec: tuple[str, str]) -> list[FakeLeg]:
    made = {vendor: candidate(vendor) for vendor in {v for v, _ in spec}}
    return [FakeLeg(made[vendor], route) for vendor, route in spec]


FOUR = (("deepgram", "flux"), ("workers_ai", "flux"), ("deepgram", "nova"), ("workers_ai", "nova"))


class Sleeps:
    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.clock.advance(seconds)


def plan(r: Any, ls: list[FakeLeg], clock: FakeClock, max_wait: float = 2.0) -> tuple[LegPlan[FakeLeg], Sleeps]:
    sleeps = Sleeps(clock)
    return LegPlan(ls, r, request_id="req_1", workspace_id="ws_1", max_wait=max_wait, sleep=sleeps), sleeps


def fingerprint(ls: list[FakeLeg], vendor: str) -> str:
    return next(leg.candidate.fingerprint for leg in ls if leg.provider_id == vendor)


def opened_names(taken: list[FakeLeg | None]) -> list[str]:
    return [f"{leg.provider_id}/{leg.route}" for leg in taken if leg is not None]


async def test_legs_come_in_order_while_every_breaker_is_closed() -> None:
    clock = FakeClock()
    r, _ = runner(clock)
    ls = legs(*FOUR)
    p, _ = plan(r, ls, clock)
    taken = [await p.next() for _ in range(5)]
    assert opened_names(taken) == ["deepgram/flux", "workers_ai/flux", "deepgram/nova", "workers_ai/nova"]
    assert taken[-1] is None


async def test_an_open_breaker_holds_a_vendor_back_at_the_start_and_at_a_switch() -> None:
    clock = FakeClock()
    r, failovers = runner(clock)
    ls = legs(*FOUR)
    r.breakers.record("deepgram", fingerprint(ls, "deepgram"), ErrorClass.AUTH, Admission.ALLOWED)
    p, _ = plan(r, ls, clock)
    first = await p.next()
    assert first is not None and (first.provider_id, first.route) == ("workers_ai", "flux")
    p.opened(first, 12.0)
    # Mid-session the vendor drops: the switch skips Deepgram (still open) for Workers AI's other model.
    p.failed(first, ProviderError("workers_ai", ErrorClass.CONNECTION, "closed (1006)"))
    assert failovers.events[-1].to_provider == "workers_ai"
    second = await p.next()
    assert second is not None and (second.provider_id, second.route) == ("workers_ai", "nova")
    assert p.held == ["deepgram"]
    # Only when nothing else is left is the open one tried, forced, as the HTTP failover does.
    p.failed(second, ProviderError("workers_ai", ErrorClass.CONNECTION, "closed (1006)"))
    last = await p.next()
    assert last is not None and (last.provider_id, last.route) == ("deepgram", "flux")


async def test_a_breaker_that_opens_during_the_session_is_honoured_at_the_next_switch() -> None:
    clock = FakeClock()
    r, failovers = runner(clock)
    ls = legs(*FOUR)
    p, _ = plan(r, ls, clock)
    first = await p.next()
    assert first is not None and first.provider_id == "deepgram"
    p.opened(first, 5.0)
    # Other requests open Workers AI's breaker while this session runs on Deepgram.
    for _ in range(3):
        r.breakers.record("workers_ai", fingerprint(ls, "workers_ai"), ErrorClass.SERVER, Admission.ALLOWED)
    assert r.breakers.state("workers_ai", fingerprint(ls, "workers_ai")) == OPEN
    p.failed(first, ProviderError("deepgram", ErrorClass.CONNECTION, "closed (1006)"))
    assert (failovers.events[-1].from_provider, failovers.events[-1].to_provider) == ("deepgram", "deepgram")
    second = await p.next()
    assert second is not None and (second.provider_id, second.route) == ("deepgram", "nova")


async def test_a_cooling_credential_is_waited_out_when_short_and_skipped_when_long() -> None:
    clock = FakeClock()
    r, _ = runner(clock)
    ls = legs(("deepgram", "flux"), ("workers_ai", "flux"), ("deepgram", "nova"))
    p, sleeps = plan(r, ls, clock, max_wait=2.0)
    first = await p.next()
    assert first is not None
    p.failed(first, ProviderError("deepgram", ErrorClass.RATE_LIMITED, "429", retry_after=1.5))
    second = await p.next()
    assert second is not None and second.provider_id == "workers_ai"  # Deepgram's nova is cooling: held back
    p.failed(second, ProviderError("workers_ai", ErrorClass.SERVER, "503"))
    third = await p.next()  # only the cooling one is left: its 1.5 s fits the session's wait
    assert third is not None and (third.provider_id, third.route) == ("deepgram", "nova")
    assert sleeps.waits == [1.5]

    clock2 = FakeClock()
    r2, _ = runner(clock2)
    ls2 = legs(("deepgram", "flux"), ("deepgram", "nova"))
    p2, sleeps2 = plan(r2, ls2, clock2, max_wait=2.0)
    leg = await p2.next()
    assert leg is not None
    p2.failed(leg, ProviderError("deepgram", ErrorClass.RATE_LIMITED, "429", retry_after=30))
    assert await p2.next() is None  # 30 s is no wait for a live session: not tried, reported as rate limited
    assert sleeps2.waits == []
    assert [e.error_class for e in p2.errors] == [ErrorClass.RATE_LIMITED, ErrorClass.RATE_LIMITED]
    assert p2.errors[-1].retry_after is not None and p2.errors[-1].retry_after > 29


async def test_a_half_open_trial_carried_by_a_session_closes_or_reopens_the_breaker() -> None:
    clock = FakeClock()
    r, _ = runner(clock)
    ls = legs(("deepgram", "flux"), ("workers_ai", "flux"))
    fp = fingerprint(ls, "deepgram")
    r.breakers.record("deepgram", fp, ErrorClass.AUTH, Admission.ALLOWED)
    clock.advance(r.breakers.policy.cooldown_seconds + 1)
    assert r.breakers.state("deepgram", fp) == HALF_OPEN
    p, _ = plan(r, ls, clock)
    trial = await p.next()
    assert trial is not None and trial.provider_id == "deepgram"
    # A second session meanwhile must not take the same trial: it goes to Workers AI.
    other, _ = plan(r, legs(("deepgram", "flux"), ("workers_ai", "flux")), clock)
    elsewhere = await other.next()
    assert elsewhere is not None and elsewhere.provider_id == "workers_ai"
    p.opened(trial, 8.0)
    assert r.breakers.state("deepgram", fp) == CLOSED

    r.breakers.record("deepgram", fp, ErrorClass.AUTH, Admission.ALLOWED)
    clock.advance(r.breakers.policy.cooldown_seconds + 1)
    p3, _ = plan(r, legs(("deepgram", "flux")), clock)
    trial = await p3.next()
    assert trial is not None
    p3.failed(trial, ProviderError("deepgram", ErrorClass.CONNECTION, "refused"))
    assert r.breakers.state("deepgram", fp) == OPEN  # the trial failed: open again, for longer
    assert r.breakers.get("deepgram", fp).reopens_in > r.breakers.policy.cooldown_seconds


async def test_globally_down_vendors_are_tried_last() -> None:
    clock = FakeClock()
    snapshot = Snapshot({"deepgram": {"status": "down", "lastCheck": int(clock.time() * 1000)}})
    r, _ = runner(clock, snapshot)
    await r.health.snapshot()
    ls = legs(("deepgram", "flux"), ("workers_ai", "flux"))
    p, _ = plan(r, ls, clock)
    taken = [await p.next(), await p.next()]
    assert opened_names(taken) == ["workers_ai/flux", "deepgram/flux"]

"""The failover loop with breakers, cooling and global health: scripted vendors, a fake clock, no network."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from gateway.errors import ErrorClass, GatewayError, ProviderError, UpstreamError
from gateway.health.client import HealthClient
from gateway.routing.breaker import CLOSED, OPEN, Admission, BreakerPolicy, Breakers
from gateway.routing.failover import FailoverPolicy, FailoverRunner
from tests.gateway.routing.support import FakeClock, RecordingTasks, candidate

POLICY = FailoverPolicy(attempt_timeout=1.0, deadline=5.0)


class Snapshot:
    """A ``HealthService`` with a fixed snapshot that records reports."""

    def __init__(self, snapshot: dict[str, dict[str, Any]] | None = None) -> None:
        self.data = snapshot or {}
        self.reports: list[list[dict[str, Any]]] = []

    async def report(self, observations: list[dict[str, Any]]) -> None:
        self.reports.append(observations)

    async def snapshot(self) -> dict[str, dict[str, Any]]:
        return self.data


class Failovers:
    def __init__(self) -> None:
        self.events: list[Any] = []

    def record_failover(self, event: Any) -> None:
        self.events.append(event)


class Vendors:
    """Scripted vendors: each call pops the next outcome (an exception to raise, or a value), and is logged."""

    def __init__(self, **scripts: list[Any]) -> None:
        self.scripts = {name: list(outcomes) for name, outcomes in scripts.items()}
        self.calls: list[str] = []

    async def __call__(self, c: Any, call: Any) -> str:
        self.calls.append(c.id)
        script = self.scripts.get(c.id) or ["ok"]
        outcome = script.pop(0) if len(script) > 1 else script[0]
        if isinstance(outcome, BaseException):
            raise outcome
        return f"{c.id}:{outcome}"


def err(vendor: str, error: ErrorClass, retry_after: float | None = None) -> ProviderError:
    return ProviderError(vendor, error, f"{error.value} from {vendor}", retry_after=retry_after)


def runner(clock: FakeClock, service: Snapshot | None = None, **policy: Any) -> tuple[FailoverRunner, Failovers]:
    failovers = Failovers()
    health = HealthClient(service or Snapshot(), RecordingTasks(), clock)  # type: ignore[arg-type]
    breakers = Breakers(BreakerPolicy(**policy), clock)  # type: ignore[arg-type]
    return FailoverRunner(health, failovers, clock, None, {}, breakers), failovers  # type: ignore[arg-type]


async def run(r: FailoverRunner, candidates: list[Any], vendors: Vendors, policy: FailoverPolicy = POLICY) -> Any:
    return await r.run(candidates, vendors, policy=policy, request_id="req_1", workspace_id="ws_1")


A, B, C = candidate("openai"), candidate("deepgram"), candidate("elevenlabs")


async def test_an_open_breaker_is_skipped_without_calling_the_vendor() -> None:
    clock = FakeClock()
    r, _ = runner(clock)
    vendors = Vendors(openai=[err("openai", ErrorClass.TIMEOUT)])
    for _ in range(3):
        outcome = await run(r, [A, B], vendors)
        assert outcome.winner.id == "deepgram"
    assert vendors.calls == ["openai", "deepgram"] * 3
    vendors.calls.clear()
    outcome = await run(r, [A, B], vendors)
    assert vendors.calls == ["deepgram"] and outcome.count == 1 and outcome.held == ["openai"]


async def test_held_vendors_are_the_last_resort_and_a_success_closes_the_breaker() -> None:
    clock = FakeClock()
    r, _ = runner(clock)
    r.breakers.record("openai", A.fingerprint, ErrorClass.AUTH, Admission.ALLOWED)
    vendors = Vendors(deepgram=[err("deepgram", ErrorClass.SERVER)])
    outcome = await run(r, [A, B], vendors)
    assert vendors.calls == ["deepgram", "openai"] and outcome.winner.id == "openai"
    assert r.breakers.state("openai", A.fingerprint) == CLOSED


async def test_auth_opens_only_that_credentials_breaker() -> None:
    clock = FakeClock()
    r, _ = runner(clock)
    byok = candidate("openai", key="sk-workspace-byok")
    vendors = Vendors(openai=[err("openai", ErrorClass.AUTH), "ok"])
    outcome = await run(r, [byok, B], vendors)
    assert outcome.winner.id == "deepgram"
    assert r.breakers.state("openai", byok.fingerprint) == OPEN
    vendors.calls.clear()
    outcome = await run(r, [A, B], vendors)  # another workspace, the platform key: unaffected
    assert vendors.calls == ["openai"] and outcome.winner.id == "openai"


async def test_a_429_skips_the_vendor_until_retry_after_passes() -> None:
    clock = FakeClock()
    r, _ = runner(clock)
    vendors = Vendors(openai=[err("openai", ErrorClass.RATE_LIMITED, retry_after=10), "ok"])
    await run(r, [A, B], vendors)
    vendors.calls.clear()
    await run(r, [A, B], vendors)
    assert vendors.calls == ["deepgram"]
    assert r.breakers.state("openai", A.fingerprint) == CLOSED  # throttled, not broken
    clock.advance(10)
    vendors.calls.clear()
    await run(r, [A, B], vendors)
    assert vendors.calls == ["openai"]


async def test_the_last_vendor_is_retried_once_when_it_says_when() -> None:
    clock = FakeClock()
    r, failovers = runner(clock)
    vendors = Vendors(deepgram=[err("deepgram", ErrorClass.SERVER, retry_after=0.01), "ok"])
    outcome = await run(r, [B], vendors)
    assert vendors.calls == ["deepgram", "deepgram"] and outcome.winner.id == "deepgram" and outcome.count == 2
    assert [(e.from_provider, e.to_provider, e.result) for e in failovers.events] == [
        ("deepgram", "deepgram", "retried")
    ]


@pytest.mark.parametrize(
    "error",
    [err("deepgram", ErrorClass.SERVER), err("deepgram", ErrorClass.SERVER, retry_after=60),
     err("deepgram", ErrorClass.TIMEOUT, retry_after=0.01)],
    ids=["no-retry-after", "retry-after-beyond-deadline", "not-a-retry-class"],
)  # fmt: skip
async def test_no_same_vendor_retry_without_a_reason(error: ProviderError) -> None:
    clock = FakeClock()
    r, failovers = runner(clock)
    vendors = Vendors(deepgram=[error])
    with pytest.raises(GatewayError):
        await run(r, [B], vendors)
    assert vendors.calls == ["deepgram"]
    assert [e.result for e in failovers.events] == ["exhausted"]


async def test_a_cooling_vendor_whose_retry_after_outlasts_the_deadline_is_not_called() -> None:
    clock = FakeClock()
    r, _ = runner(clock)
    vendors = Vendors(openai=[err("openai", ErrorClass.RATE_LIMITED, retry_after=60)],
                      deepgram=[err("deepgram", ErrorClass.RATE_LIMITED, retry_after=30)])  # fmt: skip
    with pytest.raises(UpstreamError):
        await run(r, [A, B], vendors)
    vendors.calls.clear()
    with pytest.raises(UpstreamError) as raised:
        await run(r, [A, B], vendors)
    assert vendors.calls == []  # both cool longer than the 5 s deadline: nobody is asked
    assert raised.value.retry_after == pytest.approx(30) and raised.value.headers() == {"Retry-After": "30"}


async def test_a_cooling_last_resort_is_waited_for_when_it_fits() -> None:
    clock = FakeClock()
    r, _ = runner(clock)
    r.breakers.cool("openai", A.fingerprint, 0.02)
    vendors = Vendors(deepgram=[err("deepgram", ErrorClass.SERVER)])
    outcome = await run(r, [A, B], vendors)
    assert vendors.calls == ["deepgram", "openai"] and outcome.winner.id == "openai"


def down(at_ms: float) -> dict[str, Any]:
    return {"status": "down", "lastCheck": at_ms}


async def test_globally_down_vendors_are_held_back_while_the_news_is_fresh() -> None:
    clock = FakeClock()
    service = Snapshot({"openai": down(clock.time() * 1000)})
    r, _ = runner(clock, service)
    await r.health.snapshot()
    vendors = Vendors()
    outcome = await run(r, [A, B], vendors)
    assert vendors.calls == ["deepgram"] and outcome.held == ["openai"]
    service.data = {"openai": down(clock.time() * 1000 - 10 * 60_000)}  # nobody has seen it for ten minutes
    r.health._fetched_at = None
    await r.health.snapshot()
    vendors.calls.clear()
    await run(r, [A, B], vendors)
    assert vendors.calls == ["openai"]


async def test_global_health_alone_never_holds_back_every_vendor() -> None:
    clock = FakeClock()
    now = clock.time() * 1000
    service = Snapshot({"openai": down(now), "deepgram": down(now), "workers_ai": down(now)})
    r, _ = runner(clock, service)
    await r.health.snapshot()
    builtin = candidate("workers_ai", source="builtin", key=None)
    vendors = Vendors(openai=[err("openai", ErrorClass.SERVER)], deepgram=[err("deepgram", ErrorClass.SERVER)])
    outcome = await run(r, [A, B, builtin], vendors)
    assert vendors.calls == ["openai", "deepgram", "workers_ai"]  # in order, the built-in engine last
    assert outcome.winner.id == "workers_ai"


async def test_half_open_lets_one_trial_through_while_concurrent_requests_skip_it() -> None:
    clock = FakeClock()
    r, _ = runner(clock, cooldown_seconds=30)
    r.breakers.record("openai", A.fingerprint, ErrorClass.AUTH, Admission.ALLOWED)
    clock.advance(30)
    release = asyncio.Event()
    calls: list[str] = []

    async def attempt(c: Any, call: Any) -> str:
        calls.append(c.id)
        if c.id == "openai":
            await release.wait()
        return c.id

    trial = asyncio.create_task(r.run([A, B], attempt, policy=POLICY, request_id="r1", workspace_id=None))
    await asyncio.sleep(0)
    others = [await r.run([A, B], attempt, policy=POLICY, request_id=f"r{n}", workspace_id=None) for n in range(3)]
    assert [o.winner.id for o in others] == ["deepgram"] * 3
    release.set()
    assert (await trial).winner.id == "openai"
    assert calls == ["openai", "deepgram", "deepgram", "deepgram"]
    assert r.breakers.state("openai", A.fingerprint) == CLOSED


async def test_outcomes_become_batched_observations_with_their_kind() -> None:
    clock = FakeClock()
    service = Snapshot()
    r, _ = runner(clock, service)
    vendors = Vendors(openai=[err("openai", ErrorClass.SERVER)], deepgram=["ok"])
    await run(r, [A, B], vendors)
    assert service.reports == []  # nothing sent on the request path
    await r.health.flush()
    (batch,) = service.reports
    assert [(o["provider"], o["ok"], o["error_class"], o["kind"]) for o in batch] == [
        ("openai", False, "server_error", "tts"),
        ("deepgram", True, None, "tts"),
    ]


async def test_vendors_failing_mid_stream_feed_the_same_breaker_and_log_as_failed_attempts() -> None:
    clock = FakeClock()
    r, failovers = runner(clock, failure_threshold=3)
    openai, deepgram = candidate("openai"), candidate("deepgram")
    for n in range(3):
        r.stream_failed(openai, err("openai", ErrorClass.CONNECTION), request_id=f"req_{n}", workspace_id="ws_1",
                        following="deepgram")  # fmt: skip
    assert r.breakers.get("openai", openai.fingerprint).state == "open"  # later requests skip it without waiting
    outcome = await run(r, [openai, deepgram], Vendors())
    assert outcome.winner.id == "deepgram"
    assert [(e.from_provider, e.to_provider, e.result) for e in failovers.events[:3]] == [
        ("openai", "deepgram", "switched")
    ] * 3

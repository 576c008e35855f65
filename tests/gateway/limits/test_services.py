"""The two LimitsService implementations: in-process, and leasing from the core limiter behind a fake RPC stub."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from gateway.errors import QuotaExceeded, RateLimited
from gateway.limits.leasing import LeasingLimits
from gateway.limits.limiter import WorkspaceLimiter
from gateway.limits.local import InProcessLimits
from gateway.limits.service import Ask, Ticket
from gateway.store.usage import UsageRow
from tests.gateway.limits.fakes import FakeClock, FixedUsage, LimiterStub, LoopTasks, MemoryStorage

WS = "ws_1"


def ask(n: int, limits: dict[str, Any], **overrides: Any) -> Ask:
    return Ask(
        **{
            "workspace_id": WS,
            "key_id": "key_1",
            "request_id": f"req_{n}",
            "limits": limits,
            "estimate_micros": 0,
            **overrides,
        }
    )


def row(request_id: str, micros: int, audio_seconds: float | None = None) -> UsageRow:
    return UsageRow(
        request_id=request_id,
        workspace_id=WS,
        api_key_id="key_1",
        provider="openai",
        resource="tts",
        model="tts-1",
        segment=0,
        characters=10,
        audio_seconds=audio_seconds,
        input_tokens=None,
        output_tokens=None,
        unit_prices={},
        provider_cost_micros=micros,
        markup_percentage=0.0,
        final_cost_micros=micros,
        created_at=1_767_225_600_000,
    )


async def admit_all(service: Any, asks: list[Ask]) -> tuple[list[Ticket], list[Exception]]:
    results = await asyncio.gather(*(service.admit(a) for a in asks), return_exceptions=True)
    tickets = [r for r in results if isinstance(r, Ticket)]
    errors = [r for r in results if isinstance(r, Exception)]
    return tickets, errors


def leasing(clock: FakeClock, usage: FixedUsage | None = None, **options: Any) -> tuple[LeasingLimits, LimiterStub]:
    stub = LimiterStub(WorkspaceLimiter(MemoryStorage(), clock))
    service = LeasingLimits(lambda _ws: stub, usage or FixedUsage(), clock, LoopTasks(), **options)  # type: ignore[arg-type]
    return service, stub


async def test_in_process_admits_exactly_the_limit_of_100_simultaneous_requests() -> None:
    usage = FixedUsage()
    service = InProcessLimits(usage, FakeClock())  # type: ignore[arg-type]
    tickets, errors = await admit_all(service, [ask(n, {"requestsPerMinute": 10}) for n in range(100)])
    assert len(tickets) == 10 and len(errors) == 90
    assert all(isinstance(e, RateLimited) and e.retry_after == 60.0 for e in errors)
    assert usage.loads == 1  # month-to-date spend read once, then kept in memory


async def test_in_process_budget_settles_real_costs_and_stops_within_one_request() -> None:
    service = InProcessLimits(FixedUsage(spent_micros=2_000), FakeClock())  # type: ignore[arg-type]
    limits = {"monthlyBudgetUsd": 0.01}
    spent = 2_000
    admitted = 0
    for n in range(20):
        try:
            ticket = await service.admit(ask(n, limits, estimate_micros=3_000))
        except QuotaExceeded as exc:
            assert exc.retry_after is not None and exc.retry_after > 3600  # until the month ends
            break
        service.charge(row(ticket.request_id, 2_500))
        spent += 2_500
        ticket.release()
        admitted += 1
    assert admitted == 4 and spent == 12_000  # the 4th started with 500 left: over by less than one request


async def test_in_process_budget_opens_again_in_the_next_month_and_says_when_it_does() -> None:
    clock = FakeClock(1_767_225_600.0 - 10.0)  # 2025-12-31T23:59:50Z
    usage = FixedUsage()
    service = InProcessLimits(usage, clock)  # type: ignore[arg-type]
    limits = {"monthlyBudgetUsd": 0.01}
    first = await service.admit(ask(1, limits, estimate_micros=5_000))
    service.charge(row("req_1", 10_000))
    first.release()
    with pytest.raises(QuotaExceeded) as refused:
        await service.admit(ask(2, limits, estimate_micros=5_000))
    assert refused.value.retry_after == 10.0  # the month ends in ten seconds
    clock.advance(10.0)  # 2026-01-01T00:00:00Z: a new month, a new budget
    await service.admit(ask(3, limits, estimate_micros=5_000))
    assert usage.loads == 2  # each month's spend is read once


async def test_in_process_concurrent_budget_reservations_hold_back_other_requests() -> None:
    service = InProcessLimits(FixedUsage(), FakeClock())  # type: ignore[arg-type]
    limits = {"monthlyBudgetUsd": 0.01}
    tickets, errors = await admit_all(service, [ask(n, limits, estimate_micros=4_000) for n in range(10)])
    assert len(tickets) == 2 and all(isinstance(e, QuotaExceeded) for e in errors)
    for ticket in tickets:
        ticket.release()  # nothing spent: the reservations return
    tickets, _ = await admit_all(service, [ask(n, limits, estimate_micros=4_000) for n in range(10, 20)])
    assert len(tickets) == 2


async def test_in_process_stream_slots_are_held_until_release() -> None:
    service = InProcessLimits(FixedUsage(), FakeClock())  # type: ignore[arg-type]
    limits = {"concurrentStreams": 1}
    first = await service.admit(ask(1, limits, stream=True))
    with pytest.raises(RateLimited):
        await service.admit(ask(2, limits, stream=True))
    first.release()
    first.release()  # idempotent
    await service.admit(ask(3, limits, stream=True))


async def test_leasing_admits_exactly_the_limit_without_a_round_trip_per_request() -> None:
    clock = FakeClock()
    service, stub = leasing(clock)
    tickets, errors = await admit_all(service, [ask(n, {"requestsPerMinute": 10}) for n in range(100)])
    assert len(tickets) == 10 and all(isinstance(e, RateLimited) for e in errors)
    assert stub.acquires <= 3  # 8 + 2 permits, one refusal remembered for everyone else

    clock.advance(61)
    service2, stub2 = leasing(clock)
    tickets, errors = await admit_all(service2, [ask(n, {"requestsPerMinute": 1000}) for n in range(200)])
    assert len(tickets) == 200 and not errors
    assert stub2.acquires == 200 // 8  # one round trip per lease of 8 permits


async def test_two_isolates_leasing_from_one_object_never_exceed_the_limit() -> None:
    clock = FakeClock()
    limiter = WorkspaceLimiter(MemoryStorage(), clock)
    stub = LimiterStub(limiter)
    isolates = [LeasingLimits(lambda _ws: stub, FixedUsage(), clock, LoopTasks()) for _ in range(3)]  # type: ignore[arg-type]
    asks = [(isolates[n % 3], ask(n, {"requestsPerMinute": 20})) for n in range(90)]
    results = await asyncio.gather(*(iso.admit(a) for iso, a in asks), return_exceptions=True)
    assert sum(isinstance(r, Ticket) for r in results) == 20


async def test_leasing_returns_unused_permits_and_real_spend_to_the_object() -> None:
    clock = FakeClock()
    service, stub = leasing(clock, permit_ttl=0.01)
    limits = {"requestsPerMinute": 10, "monthlyBudgetUsd": 1}
    ticket = await service.admit(ask(1, limits, estimate_micros=1_000))
    service.charge(row("req_1", 700, audio_seconds=1.5))
    ticket.release()
    await asyncio.sleep(0.02)  # the lease's permits expire; the isolate gives the lease back
    await service.tasks.drain()  # type: ignore[attr-defined]
    assert stub.releases == [
        {"id": stub.releases[0]["id"], "unusedPermits": 7, "period": "2026-01", "spentMicros": 700, "audioMs": 1500}
    ]
    ledger = stub.limiter._ledger
    assert ledger is not None and (ledger.spent_micros, ledger.reserved_micros, ledger.audio_ms) == (700, 0, 1500)
    assert ledger.windows["workspace"][0].total == 1  # the 7 unused permits no longer count


async def test_leasing_budget_slices_stop_spending_within_one_request() -> None:
    clock = FakeClock()
    service, stub = leasing(clock)
    limits = {"monthlyBudgetUsd": 0.01}
    spent, admitted = 0, 0
    for n in range(30):
        try:
            ticket = await service.admit(ask(n, limits, estimate_micros=1_500))
        except QuotaExceeded:
            break
        service.charge(row(ticket.request_id, 1_400))
        spent += 1_400
        ticket.release()
        admitted += 1
    assert 10_000 <= spent < 10_000 + 1_400
    assert stub.acquires < admitted  # several requests per round trip


async def test_leasing_streams_take_their_own_slot_from_the_object() -> None:
    clock = FakeClock()
    service, stub = leasing(clock)
    limits = {"concurrentStreams": 2}
    a = await service.admit(ask(1, limits, stream=True))
    await service.admit(ask(2, limits, stream=True))
    with pytest.raises(RateLimited) as refused:
        await service.admit(ask(3, limits, stream=True))
    assert refused.value.extra == {"limit": "concurrency"}
    a.release()
    await service.tasks.drain()  # type: ignore[attr-defined]
    await service.admit(ask(4, limits, stream=True))
    assert stub.acquires == 4


async def test_leasing_month_to_date_spend_is_the_objects_baseline() -> None:
    clock = FakeClock()
    service, _ = leasing(clock, FixedUsage(spent_micros=10_000))
    with pytest.raises(QuotaExceeded):
        await service.admit(ask(1, {"monthlyBudgetUsd": 0.01}))

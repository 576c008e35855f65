"""The ledger alone (pure, time passed in): exact windows, leases, reservations, quotas, months, persistence."""

from __future__ import annotations

from typing import Any

from gateway.limits.ledger import Ledger

PERIOD = "2026-01"


def ask(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "limits": {},
        "period": PERIOD,
        "keyId": "key_a",
        "permits": 1,
        "minPermits": 1,
        "quotaRetryAfter": 500.0,
    }
    return {**base, **overrides}


def admitted(ledger: Ledger, now: float, count: int, **overrides: Any) -> int:
    return sum(ledger.acquire(now, ask(**overrides))["ok"] for _ in range(count))


def test_requests_per_minute_admit_exactly_the_limit_then_say_when() -> None:
    ledger = Ledger()
    limits = {"requestsPerMinute": 10}
    assert admitted(ledger, 0.0, 10, limits=limits) == 10
    refused = ledger.acquire(30.0, ask(limits=limits))
    assert refused["ok"] is False and refused["reason"] == "rate"
    assert refused["retryAfter"] == 30.0  # the first ten stop counting at t=60
    assert admitted(ledger, 59.9, 1, limits=limits) == 0
    assert admitted(ledger, 60.0, 11, limits=limits) == 10


def test_requests_per_hour_bind_across_minutes() -> None:
    ledger = Ledger()
    limits = {"requestsPerMinute": 100, "requestsPerHour": 150}
    assert admitted(ledger, 0.0, 100, limits=limits) == 100
    assert admitted(ledger, 61.0, 100, limits=limits) == 50
    refused = ledger.acquire(62.0, ask(limits=limits))
    assert refused["reason"] == "rate" and refused["retryAfter"] == 3600.0 - 62.0


def test_changed_limits_apply_at_once_even_when_the_same_dict_is_edited() -> None:
    ledger = Ledger()
    limits = {"requestsPerMinute": 5}
    assert admitted(ledger, 0.0, 3, limits=limits) == 3
    assert admitted(ledger, 0.0, 3, limits={"requestsPerMinute": 4}) == 1  # a new dict with a lower limit
    limits["requestsPerMinute"] = 10  # the caller's dict edited in place: the ledger must not keep the old numbers
    assert admitted(ledger, 0.0, 10, limits=limits) == 6
    assert admitted(ledger, 0.0, 1, limits={}) == 1  # no limits set: the default 60 a minute applies again
    assert ledger.windows["workspace"][0].total == 11


def test_every_key_also_has_its_own_windows() -> None:
    ledger = Ledger()
    limits = {"requestsPerMinute": 4}
    assert admitted(ledger, 0.0, 3, limits=limits, keyId="key_a") == 3
    assert admitted(ledger, 0.0, 3, limits=limits, keyId="key_b") == 1  # the workspace's window is shared
    assert set(ledger.windows) == {"workspace", "key:key_a", "key:key_b"}
    assert ledger.windows["key:key_a"][0].total == 3 and ledger.windows["key:key_b"][0].total == 1


def test_leased_permits_count_as_used_at_the_end_of_their_ttl_and_unused_ones_come_back() -> None:
    ledger = Ledger()
    limits = {"requestsPerMinute": 10}
    grant = ledger.acquire(0.0, ask(limits=limits, permits=8, permitTtl=2.0))
    assert grant["ok"] and grant["lease"]["permits"] == 8
    second = ledger.acquire(0.0, ask(limits=limits, permits=8, permitTtl=2.0))
    assert second["lease"]["permits"] == 2  # never more than what is left
    assert ledger.acquire(0.0, ask(limits=limits))["ok"] is False
    # A permit may be used at t=2 at the latest, so it counts until t=62, not t=60.
    assert ledger.acquire(61.0, ask(limits=limits))["ok"] is False
    ledger.release(grant["lease"]["id"], unused_permits=5)  # five were never used
    assert admitted(ledger, 1.0, 6, limits=limits) == 5
    # At t=61.5 the five taken at t=1 (no ttl) have stopped counting; the five leased ones count until t=62.
    assert admitted(ledger, 61.5, 10, limits=limits) == 5


def test_budget_reserves_estimates_and_settles_real_costs() -> None:
    ledger = Ledger()
    limits = {"monthlyBudgetUsd": 0.01}  # 10_000 micros
    one = ledger.acquire(0.0, ask(limits=limits, budgetMicros=4000, minBudgetMicros=4000))
    two = ledger.acquire(0.0, ask(limits=limits, budgetMicros=4000, minBudgetMicros=4000))
    three = ledger.acquire(0.0, ask(limits=limits, budgetMicros=4000, minBudgetMicros=4000))
    assert one["ok"] and two["ok"] and three["ok"] is False
    assert three["reason"] == "budget" and three["retryAfter"] == 1.0  # held by requests in flight
    assert ledger.reserved_micros == 8000
    ledger.charge(one["lease"]["id"], 3000, 0)
    assert (ledger.spent_micros, ledger.reserved_micros) == (3000, 5000)
    ledger.release(one["lease"]["id"])
    ledger.release(two["lease"]["id"], spent_micros=3000)
    assert (ledger.spent_micros, ledger.reserved_micros) == (6000, 0)
    # 4000 left: one more fits exactly; after it, 1000 left < estimate and something is reserved → no.
    four = ledger.acquire(0.0, ask(limits=limits, budgetMicros=4000, minBudgetMicros=4000))
    assert four["ok"] and four["lease"]["budgetMicros"] == 4000
    ledger.release(four["lease"]["id"], spent_micros=3000)
    # 1000 left, nothing reserved: a lone request may finish the budget (spending stops within one request's cost).
    five = ledger.acquire(0.0, ask(limits=limits, budgetMicros=4000, minBudgetMicros=4000))
    assert five["ok"] and five["lease"]["permits"] == 1
    assert ledger.acquire(0.0, ask(limits=limits, budgetMicros=4000, minBudgetMicros=4000))["ok"] is False
    ledger.release(five["lease"]["id"], spent_micros=3000)
    used_up = ledger.acquire(0.0, ask(limits=limits, budgetMicros=1, minBudgetMicros=1))
    assert used_up["reason"] == "budget" and used_up["retryAfter"] == 500.0  # until the month ends
    assert ledger.spent_micros == 12_000  # over by less than one request's cost


def test_lease_budget_slice_is_at_most_what_is_left() -> None:
    ledger = Ledger()
    grant = ledger.acquire(
        0.0, ask(limits={"monthlyBudgetUsd": 0.05}, permits=8, budgetMicros=80_000, minBudgetMicros=10_000)
    )
    assert grant["lease"]["budgetMicros"] == 50_000 and grant["lease"]["permits"] == 8
    unlimited = ledger.acquire(0.0, ask(permits=8, budgetMicros=80_000))
    assert unlimited["lease"]["budgetMicros"] is None


def test_concurrent_stream_slots() -> None:
    ledger = Ledger()
    limits = {"concurrentStreams": 2}
    a = ledger.acquire(0.0, ask(limits=limits, slots=1))
    b = ledger.acquire(0.0, ask(limits=limits, slots=1))
    c = ledger.acquire(0.0, ask(limits=limits, slots=1))
    assert a["ok"] and b["ok"] and c["reason"] == "concurrency"
    assert ledger.acquire(0.0, ask(limits=limits))["ok"]  # plain requests need no slot
    ledger.release(a["lease"]["id"])
    assert ledger.acquire(0.0, ask(limits=limits, slots=1))["ok"]


def test_audio_minutes_are_a_gate_settled_by_real_audio() -> None:
    ledger = Ledger()
    limits = {"audioMinutesPerMonth": 1}
    grant = ledger.acquire(0.0, ask(limits=limits))
    ledger.release(grant["lease"]["id"], audio_ms=59_000)
    grant = ledger.acquire(0.0, ask(limits=limits))
    assert grant["ok"]
    ledger.release(grant["lease"]["id"], audio_ms=2_000)
    refused = ledger.acquire(0.0, ask(limits=limits))
    assert refused["reason"] == "audio" and refused["retryAfter"] == 500.0


def test_a_new_month_starts_from_its_own_baseline_and_ignores_last_months_leases() -> None:
    ledger = Ledger()
    limits = {"monthlyBudgetUsd": 0.01}
    old = ledger.acquire(0.0, ask(limits=limits, budgetMicros=5000, minBudgetMicros=5000, spentMicros=9000))
    assert old["ok"] and ledger.spent_micros == 9000
    fresh = ledger.acquire(0.0, ask(limits=limits, period="2026-02", budgetMicros=5000, minBudgetMicros=5000))
    assert fresh["ok"] and (ledger.spent_micros, ledger.reserved_micros) == (0, 5000)
    ledger.release(old["lease"]["id"], spent_micros=4000)  # January's money stays in January
    assert (ledger.spent_micros, ledger.reserved_micros) == (0, 5000)
    ledger.open_period("2026-01", 99_999)  # an isolate with a stale clock cannot drag the month back
    assert ledger.period == "2026-02" and ledger.spent_micros == 0


def test_baselines_never_double_count() -> None:
    ledger = Ledger()
    ledger.open_period(PERIOD, 5000)
    ledger.charge(None, 1000, 0, PERIOD)
    ledger.open_period(PERIOD, 5500)  # a later read that already includes part of what we counted
    assert ledger.spent_micros == 6000


def test_abandoned_leases_are_reclaimed_after_their_hold_time() -> None:
    ledger = Ledger()
    limits = {"concurrentStreams": 1, "monthlyBudgetUsd": 0.01}
    held = ledger.acquire(0.0, ask(limits=limits, slots=1, budgetMicros=10_000, minBudgetMicros=10_000, holdTtl=30.0))
    assert held["ok"]
    assert ledger.acquire(29.0, ask(limits=limits, slots=1))["ok"] is False
    again = ledger.acquire(30.0, ask(limits=limits, slots=1))
    assert again["ok"] and ledger.streams == 1 and held["lease"]["id"] not in ledger.leases
    ledger.release(held["lease"]["id"], spent_micros=2000, period=PERIOD)  # a late release still counts its money
    assert ledger.spent_micros == 2000


def test_state_survives_a_json_round_trip() -> None:
    ledger = Ledger()
    limits = {"requestsPerMinute": 5, "concurrentStreams": 1}
    lease = ledger.acquire(0.0, ask(limits=limits, permits=3, slots=1, permitTtl=1.0))["lease"]
    restored = Ledger.from_json(ledger.to_json())
    assert admitted(restored, 0.0, 5, limits=limits) == 2
    assert restored.acquire(0.0, ask(limits={"requestsPerMinute": 100, "concurrentStreams": 1}, slots=1))["ok"] is False
    restored.release(lease["id"], unused_permits=3)
    assert admitted(restored, 0.0, 5, limits=limits) == 3


def test_retry_after_waits_for_enough_permits_to_expire_skipping_returned_ones() -> None:
    ledger = Ledger()
    limits = {"requestsPerMinute": 10}
    # Leases of several permits at different times (added out of time order), one of them given back unused.
    first = ledger.acquire(20.0, ask(limits=limits, permits=4))["lease"]
    ledger.acquire(0.0, ask(limits=limits, permits=3))
    returned = ledger.acquire(5.0, ask(limits=limits, permits=2))["lease"]
    ledger.release(returned["id"], unused_permits=2)
    ledger.acquire(30.0, ask(limits=limits, permits=3))
    assert first["permits"] == 4
    # 10 in use at t=40; 5 more need the t=0 lease (3, ends 60), the returned one (0) and the t=20 one (4, ends 80).
    refused = ledger.acquire(40.0, ask(limits=limits, minPermits=5, permits=5))
    assert refused["ok"] is False and refused["retryAfter"] == 40.0
    assert ledger.acquire(40.0, ask(limits=limits, minPermits=11))["retryAfter"] == 60.0  # never fits: a window

"""Rate windows hold a bounded number of entries however many requests they count, and stay conservative."""

from __future__ import annotations

from gateway.limits.windows import Window


def test_a_hundred_thousand_grants_in_one_minute_take_a_bounded_number_of_entries() -> None:
    hour = Window(3600.0)
    for i in range(100_000):
        hour.add(i * 0.0006, 0.0, 1, f"lease-{i}")  # 100k requests over one minute
        hour.give_back(f"lease-{i}", 0)  # each request's lease ends (all permits used)
    assert hour.room(60.0, 1_000_000) == 900_000
    assert len(hour.entries) <= 61  # one bucket per second of grants, not one per request
    assert not hour._leases  # ended leases are forgotten


def test_rounding_only_ever_counts_a_grant_longer_and_refunds_still_work() -> None:
    minute = Window(60.0)
    minute.add(0.3, 0.0, 2, "a")
    assert minute.room(60.29, 2) == 0  # still counted at its exact end time
    assert minute.room(60.3 + minute.quantum, 2) == 2  # and gone one bucket later at most
    minute.add(100.0, 0.0, 3, "b")
    minute.give_back("b", 2)  # two permits never used
    assert minute.room(100.0, 3) == 2
    assert minute.retry_after(100.0, 1, 1) == 60.0  # whole-second grants keep exact ends


def test_open_leases_survive_a_json_round_trip() -> None:
    window = Window(60.0)
    window.add(0.0, 0.0, 1, "x")
    window.add(0.0, 0.0, 3, "y")
    restored = Window(60.0, window.to_json())
    restored.give_back("y", 3)
    assert restored.room(0.0, 10) == 9

"""The per-isolate TTL cache behind key lookups, workspaces, strategies and vendor directories."""

from __future__ import annotations

from gateway.cache import TtlCache


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now


async def test_values_are_loaded_once_per_period_and_none_is_cached_too() -> None:
    clock, loads = FakeClock(), []

    async def load() -> None:
        loads.append(clock.now)
        return None

    cache: TtlCache[str, None] = TtlCache(clock, seconds=10)
    assert await cache.get_or_load("k", load) is None
    clock.now += 9
    assert await cache.get_or_load("k", load) is None
    assert loads == [100.0]  # a known miss is not looked up again within the period
    clock.now += 2
    await cache.get_or_load("k", load)
    assert loads == [100.0, 111.0]


async def test_pop_and_a_full_cache_force_reloads() -> None:
    clock = FakeClock()
    cache: TtlCache[int, int] = TtlCache(clock, seconds=10, max_entries=2)
    cache.put(1, 1)
    cache.put(2, 2)
    cache.pop(1)
    assert cache.get(1, None) is None and cache.get(2) == 2
    cache.put(3, 3)
    cache.put(4, 4)  # full: cleared before storing
    assert cache.get(2, None) is None and cache.get(4) == 4

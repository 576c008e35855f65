"""The in-memory store (a runtime that gives none) meets the store contract, and bounds its size LRU-first."""

from __future__ import annotations

import pytest

from gateway.speech_cache import MemorySpeechCacheStore

from .contract import CONTRACT, ManualClock, entry, key


@pytest.mark.parametrize("check", CONTRACT, ids=lambda c: c.__name__)
async def test_memory_store_contract(check) -> None:  # type: ignore[no-untyped-def]
    clock = ManualClock()
    await check(MemorySpeechCacheStore(clock), clock)


async def test_memory_store_evicts_least_recently_used() -> None:
    clock = ManualClock()
    store = MemorySpeechCacheStore(clock, max_bytes=300)
    for text in ("a", "b", "c"):
        await store.put(key(text), entry(clock, b"." * 100))
    assert await store.get(key("a")) is not None  # "a" is now the most recently used
    await store.put(key("d"), entry(clock, b"." * 100))
    assert await store.get(key("b")) is None
    assert all([await store.get(key(t)) is not None for t in ("a", "c", "d")])
    assert (await store.stats()).bytes == 300

"""The local speech cache store (a SQLite file under the state dir): the store contract, its size bound with
LRU-ish eviction, and persistence across restarts."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtimes.local.speech_cache import LocalSpeechCacheStore
from tests.gateway.speech_cache.contract import CONTRACT, ManualClock, entry, key


@pytest.mark.parametrize("check", CONTRACT, ids=lambda c: c.__name__)
async def test_local_store_contract(check, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    clock = ManualClock()
    store = LocalSpeechCacheStore(str(tmp_path / "speech-cache.sqlite"), clock=clock)
    try:
        await check(store, clock)
    finally:
        await store.close()


async def test_size_limit_drops_expired_then_least_recently_used() -> None:
    clock = ManualClock()
    store = LocalSpeechCacheStore(max_bytes=10_000, clock=clock)
    try:
        await store.put(key("expired"), entry(clock, b"e" * 900, ttl=10))
        for i in range(8):
            clock.now += 1
            await store.put(key(f"n{i}"), entry(clock, b"." * 1000, ttl=3600))
        clock.now += 20  # "expired" is past its TTL now
        assert await store.get(key("n0")) is not None  # n0 becomes the most recently used
        clock.now += 1
        await store.put(key("big"), entry(clock, b"b" * 900, ttl=3600))  # 8900 live + 900 expired: under the limit
        assert (await store.stats()).bytes == 8900  # the expired entry is not counted as held
        await store.put(
            key("more"), entry(clock, b"m" * 1000, ttl=3600)
        )  # 10 800 > 10 000: drop the expired, then LRU to <= 9 000
        stats = await store.stats()
        assert stats.bytes is not None and stats.bytes <= 9000
        assert await store.get(key("n0")) is not None  # recently used: kept
        assert await store.get(key("n1")) is None  # the least recently used: gone (9 900 - 1 000 is under 9 000)
        assert await store.get(key("n2")) is not None
        assert await store.get(key("more")) is not None
        # an entry larger than the eviction margin is not kept at all (it would flush everything else)
        await store.put(key("huge"), entry(clock, b"h" * 2000, ttl=3600))
        assert await store.get(key("huge")) is None
    finally:
        await store.close()


async def test_entries_survive_a_restart(tmp_path: Path) -> None:
    clock = ManualClock()
    path = str(tmp_path / "speech-cache.sqlite")
    store = LocalSpeechCacheStore(path, clock=clock)
    await store.put(key("persist"), entry(clock, b"\x00audio\xff"))
    await store.close()
    reopened = LocalSpeechCacheStore(path, clock=clock)
    try:
        got = await reopened.get(key("persist"))
        assert got is not None and got.audio == b"\x00audio\xff"
    finally:
        await reopened.close()

"""The ``KeyValue`` port on SQLite: KV's semantics (expiry, prefix listing), persisted in its own file."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from runtimes.local.kv import SQLiteKV


class ManualClock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def kv(clock: ManualClock) -> AsyncIterator[SQLiteKV]:
    store = SQLiteKV(":memory:", clock=clock)
    yield store
    await store.close()


async def test_put_get_overwrite_delete(kv: SQLiteKV) -> None:
    assert await kv.get("platform-key:openai") is None
    await kv.put("platform-key:openai", "sealed-1")
    await kv.put("platform-key:openai", "sealed-2")
    assert await kv.get("platform-key:openai") == "sealed-2"
    await kv.delete("platform-key:openai")
    await kv.delete("platform-key:openai")  # deleting a missing key is not an error, as in KV
    assert await kv.get("platform-key:openai") is None


async def test_entries_expire_after_their_ttl(kv: SQLiteKV, clock: ManualClock) -> None:
    await kv.put("cache:a", "1", ttl_seconds=30)
    await kv.put("cache:b", "2")
    clock.now += 29.9
    assert await kv.get("cache:a") == "1"
    clock.now += 0.1
    assert await kv.get("cache:a") is None
    assert await kv.get("cache:b") == "2"  # no ttl: never expires
    assert await kv.list("cache:") == ["cache:b"]


async def test_a_put_without_ttl_clears_an_earlier_expiry(kv: SQLiteKV, clock: ManualClock) -> None:
    await kv.put("k", "short", ttl_seconds=1)
    await kv.put("k", "forever")
    clock.now += 3600
    assert await kv.get("k") == "forever"


async def test_list_matches_the_prefix_literally_in_key_order(kv: SQLiteKV, clock: ManualClock) -> None:
    for key in ("pk:b", "pk:a", "pkx", "PK:c", "p%:d", "other"):
        await kv.put(key, "v")
    await kv.put("pk:expired", "v", ttl_seconds=5)
    clock.now += 10
    assert await kv.list("pk:") == ["pk:a", "pk:b"]
    assert await kv.list("p%") == ["p%:d"]  # % and _ are not wildcards
    assert await kv.list("p_:") == []
    assert await kv.list() == ["PK:c", "other", "p%:d", "pk:a", "pk:b", "pkx"]


async def test_values_survive_a_restart_with_the_system_clock(tmp_path: Path) -> None:
    path = str(tmp_path / "kv.sqlite")
    store = SQLiteKV(path)
    await store.put("platform-key:deepgram", "sealed")
    await store.put("short", "gone soon", ttl_seconds=0)
    await store.close()

    reopened = SQLiteKV(path)
    try:
        assert await reopened.get("platform-key:deepgram") == "sealed"
        assert await reopened.get("short") is None
        assert await reopened.list() == ["platform-key:deepgram"]
    finally:
        await reopened.close()

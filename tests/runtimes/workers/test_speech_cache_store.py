"""The Workers speech cache store (KV, through the runtime's ``WorkersKV`` adapter) against the KV stand-in, which
enforces KV's rules (string values, a 60-second TTL floor, paged listing)."""

from __future__ import annotations

import pytest

from runtimes.workers.kv import WorkersKV
from runtimes.workers.speech_cache import PREFIX, KVSpeechCacheStore
from tests.gateway.speech_cache.contract import CONTRACT, ManualClock, entry, key

from . import standins


@pytest.mark.parametrize("check", CONTRACT, ids=lambda c: c.__name__)
async def test_kv_store_contract(check, sdk) -> None:  # type: ignore[no-untyped-def]
    clock = ManualClock()
    await check(KVSpeechCacheStore(WorkersKV(standins.KVNamespace(page_size=2)), clock), clock)


async def test_kv_entries_carry_kv_expiry_and_live_under_their_own_prefix(sdk) -> None:  # type: ignore[no-untyped-def]
    clock = ManualClock()
    binding = standins.KVNamespace()
    store = KVSpeechCacheStore(WorkersKV(binding), clock)
    await store.put(key("short-lived"), entry(clock, b"abc", ttl=5))  # under KV's 60 s floor: still stored
    await store.put(key("day"), entry(clock, b"abc", ttl=86400))
    names = sorted(binding.data)
    assert all(name.startswith(PREFIX + "ws:ws_a:") for name in names)
    assert sorted(binding.ttls.values()) == [60, 86400]  # KV expires them by itself (60 s: KV's minimum)
    clock.now += 6
    assert await store.get(key("short-lived")) is None  # the policy's 5 s hold exactly, though KV keeps it longer
    assert (await store.stats("ws:ws_a")).entries == 2


async def test_a_corrupt_value_is_a_miss(sdk) -> None:  # type: ignore[no-untyped-def]
    clock = ManualClock()
    binding = standins.KVNamespace()
    store = KVSpeechCacheStore(WorkersKV(binding), clock)
    await store.put(key("x"), entry(clock, b"abc"))
    (name,) = binding.data
    binding.data[name] = "{not json"
    assert await store.get(key("x")) is None

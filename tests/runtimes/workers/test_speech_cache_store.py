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


# -- the whole request path over the KV store -------------------------------------------------------------------
@pytest.fixture
async def kv_gw(sdk, openai_fake, deepgram_fake):  # type: ignore[no-untyped-def]
    """The gateway in-process with its speech cache on the KV store (the stand-in namespace): what the Worker runs."""
    from tests.conftest import make_gateway, vendor_env

    binding = standins.KVNamespace()
    async for harness in make_gateway({**vendor_env(openai_fake, deepgram_fake), "STREAM_STALL_SECONDS": "0.5"}):
        harness.gateway.speech_cache.store = KVSpeechCacheStore(WorkersKV(binding))
        harness.kv_binding = binding
        yield harness


async def test_over_kv_a_repeat_is_a_hit_with_the_same_bytes_no_vendor_call_and_a_zero_cost_row(
    kv_gw,
    openai_fake,  # type: ignore[no-untyped-def]
) -> None:
    from tests.gateway.speech_cache.test_stage import enable, say, speech_calls

    await enable(kv_gw)
    miss = await say(kv_gw)
    hit = await say(kv_gw)
    assert (miss.headers["x-cache"], hit.headers["x-cache"]) == ("MISS", "HIT")
    assert hit.content == miss.content and hit.headers["x-provider"] == "openai"
    assert speech_calls(openai_fake) == 1
    assert len(kv_gw.kv_binding.data) == 1  # the entry is in KV
    rows = await kv_gw.db.all("SELECT provider, provider_cost_micros, final_cost_micros FROM usage_records")
    assert {"provider": "cache", "provider_cost_micros": 0, "final_cost_micros": 0} in rows


async def test_over_kv_workspaces_are_apart_and_purge_empties_one(kv_gw, openai_fake) -> None:  # type: ignore[no-untyped-def]
    from tests.gateway.speech_cache.test_stage import enable, say, second_workspace, speech_calls

    other_id, other_key = await second_workspace(kv_gw)
    await enable(kv_gw)
    await enable(kv_gw, other_id)
    await say(kv_gw)
    assert (await say(kv_gw, key=other_key)).headers["x-cache"] == "MISS"
    r = await kv_gw.client.delete(f"/admin/workspaces/{kv_gw.workspace_id}/cache", headers=kv_gw.admin)
    assert r.json() == {"purged": 1}
    assert (await say(kv_gw)).headers["x-cache"] == "MISS"
    assert (await say(kv_gw, key=other_key)).headers["x-cache"] == "HIT"  # the other workspace's entry survived
    assert speech_calls(openai_fake) == 3


async def test_over_kv_a_failed_over_stream_is_never_stored(kv_gw, openai_fake, deepgram_fake) -> None:  # type: ignore[no-untyped-def]
    from tests.fakes.harness import Fault
    from tests.gateway.speech_cache.test_stage import enable
    from tests.gateway.speech_cache.test_stream import NOTHING, stream

    await enable(kv_gw)
    openai_fake.state.fail(NOTHING, Fault("cut", after_chunks=2))
    assert (await stream(kv_gw)).headers["x-cache"] == "MISS"
    assert kv_gw.kv_binding.data == {}  # cut and finished elsewhere: nothing kept
    whole = await stream(kv_gw)
    assert len(kv_gw.kv_binding.data) == 1
    again = await stream(kv_gw)
    assert again.headers["x-cache"] == "HIT" and again.content == whole.content

"""What every speech cache store must do, run against each runtime's adapter by that runtime's tests (the local
SQLite store in tests/runtimes/local, the Workers KV store in tests/runtimes/workers) and the in-memory store here."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from gateway.speech_cache import CachedAudio, derive_key, workspace_scope
from gateway.speech_cache.key import SHARED_SCOPE
from providers.base import SynthesisRequest


class ManualClock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now


def entry(clock: ManualClock, audio: bytes, ttl: float = 60.0, **extra: Any) -> CachedAudio:
    return CachedAudio(audio=audio, content_type="audio/mpeg", provider="openai", model="tts-1",
                       characters=12, created_at=clock.now, expires_at=clock.now + ttl, **extra)  # fmt: skip


def key(text: str, workspace: str = "ws_a", scope: str | None = None):  # type: ignore[no-untyped-def]
    return derive_key(SynthesisRequest(text=text), scope=scope or workspace_scope(workspace), pinned=None)


async def round_trip(store: Any, clock: ManualClock) -> None:
    audio = bytes(range(256)) * 40  # binary, every byte value
    stored = entry(clock, audio, usage={"output_token": 7}, sample_rate=24000)
    await store.put(key("hello"), stored)
    got = await store.get(key("hello"))
    assert got is not None
    assert got.audio == audio
    assert (got.provider, got.model, got.characters, got.content_type) == ("openai", "tts-1", 12, "audio/mpeg")
    assert got.usage == {"output_token": 7} and got.sample_rate == 24000
    assert await store.get(key("hello again")) is None


async def scopes_are_separate(store: Any, clock: ManualClock) -> None:
    await store.put(key("hi", "ws_a"), entry(clock, b"A" * 100))
    assert await store.get(key("hi", "ws_b")) is None  # the same text in another workspace never hits
    assert await store.get(key("hi", scope=SHARED_SCOPE)) is None
    await store.put(key("hi", scope=SHARED_SCOPE), entry(clock, b"S" * 100))
    assert (await store.get(key("hi", scope=SHARED_SCOPE))).audio == b"S" * 100  # type: ignore[union-attr]
    assert (await store.get(key("hi", "ws_a"))).audio == b"A" * 100  # type: ignore[union-attr]


async def ttl_expires(
    store: Any, clock: ManualClock, advance: Callable[[float], Awaitable[None]] | None = None
) -> None:
    await store.put(key("short"), entry(clock, b"x" * 10, ttl=90))
    await store.put(key("long"), entry(clock, b"y" * 10, ttl=3600))
    clock.now += 89
    assert await store.get(key("short")) is not None
    clock.now += 2
    assert await store.get(key("short")) is None  # expired exactly at its TTL, whatever the backend's granularity
    assert await store.get(key("long")) is not None


async def purge_drops_one_scope(store: Any, clock: ManualClock) -> None:
    for text in ("one", "two", "three"):
        await store.put(key(text, "ws_a"), entry(clock, text.encode()))
    await store.put(key("one", "ws_b"), entry(clock, b"b-one"))
    assert await store.purge(workspace_scope("ws_a")) == 3
    assert all([await store.get(key(t, "ws_a")) is None for t in ("one", "two", "three")])
    assert (await store.get(key("one", "ws_b"))).audio == b"b-one"  # type: ignore[union-attr]
    assert await store.purge(workspace_scope("ws_a")) == 0


CONTRACT = (round_trip, scopes_are_separate, ttl_expires, purge_drops_one_scope)

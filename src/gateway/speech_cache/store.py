"""The storage port of the speech cache, and an in-memory store (tests, and a runtime that gives none).

A store keeps opaque audio with the facts needed to answer and bill a hit. Expiry is the store's job (each entry
carries its own ``expires_at``: the workspace's TTL when it was stored); eviction beyond that is up to the store
(the local one bounds its size, KV bounds itself). Adapters: ``runtimes.local.speech_cache`` (SQLite file),
``runtimes.workers.speech_cache`` (Workers KV).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Protocol

from gateway.ports import Clock
from gateway.speech_cache.key import CacheKey


@dataclass
class CachedAudio:
    audio: bytes
    content_type: str
    provider: str  # the vendor that produced it (X-Provider on a hit)
    model: str
    characters: int
    usage: dict[str, float] = field(default_factory=dict)  # other units the vendor reported (tokens)
    sample_rate: int | None = None
    created_at: float = 0.0  # wall-clock seconds
    expires_at: float = 0.0

    def meta(self) -> dict[str, Any]:
        """Everything but the audio, as JSON-able values (what adapters store beside the bytes)."""
        return {
            "content_type": self.content_type, "provider": self.provider, "model": self.model,
            "characters": self.characters, "usage": self.usage, "sample_rate": self.sample_rate,
            "created_at": self.created_at, "expires_at": self.expires_at,
        }  # fmt: skip

    @classmethod
    def from_meta(cls, audio: bytes, meta: dict[str, Any]) -> CachedAudio:
        return cls(
            audio=audio, content_type=str(meta["content_type"]), provider=str(meta["provider"]),
            model=str(meta["model"]), characters=int(meta["characters"]), usage=dict(meta.get("usage") or {}),
            sample_rate=meta.get("sample_rate"), created_at=float(meta.get("created_at") or 0),
            expires_at=float(meta["expires_at"]),
        )  # fmt: skip


@dataclass
class StoreStats:
    entries: int | None  # None when the store cannot count cheaply (KV)
    bytes: int | None


class SpeechCacheStore(Protocol):
    async def get(self, key: CacheKey) -> CachedAudio | None:
        """The live entry, or None (expired entries are never returned)."""
        ...

    async def put(self, key: CacheKey, entry: CachedAudio) -> None: ...

    async def purge(self, scope: str) -> int:
        """Drop every entry of a scope; returns how many were dropped."""
        ...

    async def stats(self, scope: str | None = None) -> StoreStats: ...


class MemorySpeechCacheStore:
    """A bounded LRU in process memory."""

    def __init__(self, clock: Clock, max_bytes: int = 64 * 1024 * 1024) -> None:
        self.clock = clock
        self.max_bytes = max_bytes
        self._entries: OrderedDict[CacheKey, CachedAudio] = OrderedDict()
        self._bytes = 0

    async def get(self, key: CacheKey) -> CachedAudio | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.expires_at <= self.clock.time():
            self._drop(key)
            return None
        self._entries.move_to_end(key)
        return entry

    async def put(self, key: CacheKey, entry: CachedAudio) -> None:
        if len(entry.audio) > self.max_bytes:
            return
        self._drop(key)
        self._entries[key] = entry
        self._bytes += len(entry.audio)
        while self._bytes > self.max_bytes:
            self._drop(next(iter(self._entries)))

    async def purge(self, scope: str) -> int:
        keys = [k for k in self._entries if k.scope == scope]
        for key in keys:
            self._drop(key)
        return len(keys)

    async def stats(self, scope: str | None = None) -> StoreStats:
        chosen = [e for k, e in self._entries.items() if scope is None or k.scope == scope]
        return StoreStats(len(chosen), sum(len(e.audio) for e in chosen))

    def _drop(self, key: CacheKey) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._bytes -= len(entry.audio)

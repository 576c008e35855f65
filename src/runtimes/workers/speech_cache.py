"""The speech cache's store on the edge: Workers KV, through the core's ``KeyValue`` port.

Why KV and not the Cache API (``caches.default``):
- KV is global: a greeting synthesized once in one location is a hit in every other; the Cache API is per data
  centre, so a workspace served from many locations would pay the vendor once per location.
- KV can list by prefix, so purging one workspace is a list + deletes under ``speech-cache:ws:<id>:``; the Cache API
  cannot enumerate, so a purge would need a generation counter read from somewhere else on every request.
- KV expires entries itself (``expirationTtl``), and its reads of hot keys are cached at the edge.
What KV costs: writes are billed and limited to one per second per key (we write once per miss), a purge or an
overwrite takes up to ~60 s to be seen everywhere (KV is eventually consistent), and values are at most 25 MiB.
The Cache API is free and would win for one-location deployments; we have not measured either on the real edge
(the build machines are offline), so this is a decision from the documented semantics, not from a benchmark.

Values are one JSON text (the metadata plus the audio in base64): the ``KeyValue`` port carries strings, and a
sentence of speech is tens of kilobytes, so the third more bytes is the price of one read per hit (no second key or
KV metadata, which is capped at 1 KiB). Each entry also carries its own ``expires_at``: KV's TTL has a 60-second
floor and may serve a value a little past its expiry, and the policy's TTL must hold exactly.
"""

from __future__ import annotations

import base64
import json

from gateway.ports import Clock, KeyValue, SystemClock
from gateway.speech_cache.key import CacheKey
from gateway.speech_cache.store import CachedAudio, StoreStats

PREFIX = "speech-cache:"
MAX_VALUE_BYTES = 24 * 1024 * 1024  # KV's limit is 25 MiB per value, base64 and JSON included


def kv_key(key: CacheKey) -> str:
    return f"{PREFIX}{key.scope}:{key.digest}"


class KVSpeechCacheStore:
    def __init__(self, kv: KeyValue, clock: Clock | None = None) -> None:
        self.kv = kv
        self.clock = clock or SystemClock()

    async def get(self, key: CacheKey) -> CachedAudio | None:
        raw = await self.kv.get(kv_key(key))
        if raw is None:
            return None
        try:
            value = json.loads(raw)
            entry = CachedAudio.from_meta(base64.b64decode(value["audio"]), value["meta"])
        except (ValueError, KeyError, TypeError):
            return None  # an entry we cannot read is a miss (and will be overwritten)
        return entry if entry.expires_at > self.clock.time() else None

    async def put(self, key: CacheKey, entry: CachedAudio) -> None:
        value = json.dumps({"meta": entry.meta(), "audio": base64.b64encode(entry.audio).decode("ascii")})
        if len(value) > MAX_VALUE_BYTES:
            return
        ttl = max(1, int(entry.expires_at - self.clock.time()))
        await self.kv.put(kv_key(key), value, ttl_seconds=ttl)

    async def purge(self, scope: str) -> int:
        names = await self.kv.list(f"{PREFIX}{scope}:")
        for name in names:
            await self.kv.delete(name)
        return len(names)

    async def stats(self, scope: str | None = None) -> StoreStats:
        names = await self.kv.list(f"{PREFIX}{scope}:" if scope else PREFIX)
        return StoreStats(len(names), None)  # sizes would need a read per key

"""The cache stage of the speech request path: after auth and limits, before vendor selection.

Its whole interface is ``lookup`` (what the policy and the client allow, and the entry when there is one), the
returned :class:`Lookup`'s ``store`` (schedule a write after the response) and ``bill_hit`` (the usage row of a hit).
Routes call those three; the stage knows nothing of HTTP beyond the request headers it is handed. A failing store
never fails a request: a lookup error is a MISS, a write error is logged.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gateway.cache import TtlCache
from gateway.metrics import Metrics
from gateway.ports import BackgroundTasks, Clock
from gateway.speech_cache.key import SHARED_SCOPE, CacheKey, derive_key, workspace_scope
from gateway.speech_cache.policy import CachePolicy, CachePolicyStore, Directives
from gateway.speech_cache.store import CachedAudio, SpeechCacheStore, StoreStats
from providers.base import SynthesisRequest

log = logging.getLogger("gateway.speech_cache")

HIT, MISS, BYPASS = "HIT", "MISS", "BYPASS"
LOOKUPS = "vgw_speech_cache_lookups_total"
BYTES = "vgw_speech_cache_bytes_total"


@dataclass
class Lookup:
    """One request's view of the cache. ``status``: HIT (``entry`` is the audio), MISS (looked up, not found: the
    vendor's audio will be stored) or BYPASS (the cache is off for this workspace, or the client said
    ``no-cache``/``no-store``: no lookup; ``no-cache`` still stores)."""

    status: str
    policy: CachePolicy
    key: CacheKey | None = None
    entry: CachedAudio | None = None
    may_store: bool = False
    _cache: SpeechCache | None = field(default=None, repr=False)

    def headers(self) -> dict[str, str]:
        return {"X-Cache": self.status}

    def store(
        self, audio: bytes, *, content_type: str, provider: str, model: str, characters: int,
        usage: Mapping[Any, float] | None = None, sample_rate: int | None = None,
    ) -> bool:  # fmt: skip
        """Keep the audio for later requests (written after the response). False when policy forbids it."""
        if not self.may_store or self.key is None or self._cache is None or not audio:
            return False
        now = self._cache.clock.time()
        entry = CachedAudio(
            audio=audio, content_type=content_type, provider=provider, model=model, characters=characters,
            usage={str(getattr(k, 'value', k)): v for k, v in (usage or {}).items()}, sample_rate=sample_rate, created_at=now,
            expires_at=now + self.policy.ttl_seconds,
        )  # fmt: skip
        self.may_store = False  # one write per lookup
        self._cache.put_later(self.key, entry)
        return True


class SpeechCache:
    def __init__(
        self, store: SpeechCacheStore, policies: CachePolicyStore, clock: Clock, tasks: BackgroundTasks,
        metrics: Metrics, policy_seconds: float,
    ) -> None:  # fmt: skip
        self.store = store
        self.policies = policies
        self.clock = clock
        self.tasks = tasks
        self.metrics = metrics
        self._policy_cache: TtlCache[str, CachePolicy] = TtlCache(clock, policy_seconds)
        self.counts = {HIT: 0, MISS: 0, BYPASS: 0}  # this instance's lookups (the hit-ratio gauge)

    # -- policy ------------------------------------------------------------------------------------------------
    async def policy(self, workspace_id: str) -> CachePolicy:
        return await self._policy_cache.get_or_load(workspace_id, lambda: self.policies.get(workspace_id))

    async def set_policy(self, workspace_id: str, policy: CachePolicy) -> CachePolicy:
        await self.policies.put(workspace_id, policy)
        self._policy_cache.pop(workspace_id)
        return policy

    # -- the stage ---------------------------------------------------------------------------------------------
    async def lookup(
        self, workspace_id: str, headers: Mapping[str, str], request: SynthesisRequest, *, pinned: str | None,
        dialect: str = "voice", consult: bool = True,
    ) -> Lookup:  # fmt: skip
        """``consult=False`` only asks whether fresh audio for this request may be stored: nothing is looked up and
        nothing counted (a segment that went to the vendor without a lookup)."""
        policy = await self.policy(workspace_id)
        directives = Directives.from_headers(headers)
        count = self._counted if consult else (lambda lookup: lookup)
        if not policy.enabled or not directives.store:
            return count(Lookup(BYPASS, policy))
        scope = SHARED_SCOPE if directives.shared and policy.allow_shared else workspace_scope(workspace_id)
        key = derive_key(request, scope=scope, pinned=pinned, dialect=dialect)
        if not directives.lookup:
            return count(Lookup(BYPASS, policy, key, may_store=True, _cache=self))
        if not consult:
            return Lookup(MISS, policy, key, may_store=True, _cache=self)
        try:
            entry = await self.store.get(key)
        except Exception:
            log.exception("speech cache lookup failed; serving from a vendor")
            entry = None
        if entry is None:
            return self._counted(Lookup(MISS, policy, key, may_store=True, _cache=self))
        self.metrics.inc(BYTES, (("direction", "served"),), len(entry.audio))
        return self._counted(Lookup(HIT, policy, key, entry))

    def _counted(self, lookup: Lookup) -> Lookup:
        self.metrics.inc(LOOKUPS, (("result", lookup.status.lower()),))
        self.counts[lookup.status] += 1
        return lookup

    def put_later(self, key: CacheKey, entry: CachedAudio) -> None:
        async def put() -> None:
            try:
                await self.store.put(key, entry)
                self.metrics.inc(BYTES, (("direction", "stored"),), len(entry.audio))
            except Exception:
                log.exception("speech cache write failed")

        self.tasks.spawn(put())

    # -- admin -------------------------------------------------------------------------------------------------
    async def purge(self, workspace_id: str) -> int:
        return await self.store.purge(workspace_scope(workspace_id))

    async def stats(self, workspace_id: str | None = None) -> StoreStats:
        try:
            return await self.store.stats(workspace_scope(workspace_id) if workspace_id else None)
        except Exception:
            log.exception("speech cache stats failed")
            return StoreStats(None, None)

    async def gauges(self) -> dict[str, float]:
        """For ``/metrics``: this instance's hit ratio (hits / lookups that consulted the cache) and the bytes the
        store holds when it can tell."""
        consulted = self.counts[HIT] + self.counts[MISS]
        out = {"vgw_speech_cache_hit_ratio": self.counts[HIT] / consulted if consulted else 0.0}
        stats = await self.stats()
        if stats.bytes is not None:
            out["vgw_speech_cache_stored_bytes"] = float(stats.bytes)
            out["vgw_speech_cache_entries"] = float(stats.entries or 0)
        return out

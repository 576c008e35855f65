"""Exact-match speech cache: a stage of the speech request path (after auth and limits, before vendor selection).

key.py      what determines the audio → a scoped hash (per workspace by default, opt-in shared scope)
policy.py   per workspace (on/off, TTL, shared scope, price of a hit) and per request (Cache-Control)
store.py    the storage port (+ an in-memory store); adapters live in runtimes.local / runtimes.workers
stage.py    SpeechCache.lookup → Lookup (HIT/MISS/BYPASS, .store(...)); purge, stats, gauges
billing.py  the usage row of a hit (vendor ``cache``, provider cost 0, the vendor cost avoided)
respond.py  serving a hit over HTTP, whole or as a stream
"""

from gateway.speech_cache.billing import CACHE_VENDOR, bill_hit
from gateway.speech_cache.key import SHARED_SCOPE, CacheKey, derive_key, normalise_text, workspace_scope
from gateway.speech_cache.policy import CachePolicy, CachePolicyStore, Directives
from gateway.speech_cache.stage import BYPASS, HIT, MISS, Lookup, SpeechCache
from gateway.speech_cache.store import CachedAudio, MemorySpeechCacheStore, SpeechCacheStore, StoreStats
from gateway.speech_cache.wiring import STORE_EXTRA

__all__ = [
    "BYPASS", "CACHE_VENDOR", "HIT", "MISS", "SHARED_SCOPE", "STORE_EXTRA", "CacheKey", "CachePolicy",
    "CachePolicyStore", "CachedAudio", "Directives", "Lookup", "MemorySpeechCacheStore", "SpeechCache",
    "SpeechCacheStore", "StoreStats", "bill_hit", "derive_key", "normalise_text", "workspace_scope",
]  # fmt: skip

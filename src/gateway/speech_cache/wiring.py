"""Build the cache stage from a runtime: its store from ``Runtime.extras`` (each runtime gives its own), or an
in-memory store when the runtime gives none."""

from __future__ import annotations

from gateway.metrics import Metrics
from gateway.ports import Runtime
from gateway.speech_cache.policy import CachePolicyStore
from gateway.speech_cache.stage import SpeechCache
from gateway.speech_cache.store import MemorySpeechCacheStore, SpeechCacheStore

STORE_EXTRA = "speech_cache_store"


def build_speech_cache(runtime: Runtime, metrics: Metrics, policy_seconds: float) -> SpeechCache:
    store: SpeechCacheStore = runtime.extras.get(STORE_EXTRA) or MemorySpeechCacheStore(runtime.clock)
    return SpeechCache(store, CachePolicyStore(runtime.db, runtime.clock), runtime.clock, runtime.tasks, metrics,
                       policy_seconds)  # fmt: skip

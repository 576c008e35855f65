"""The cache for ``/voice/speak-stream``, one flushed segment at a time.

A segment (the text between two Flushes) is looked up when the client flushes it with nothing still in flight at
the vendor, so a cached segment can be answered at once without overtaking audio still to come; a segment flushed
behind others goes to the vendor. Either way, a segment the vendor completed (its ``Flushed``) is stored — its
audio counted from the vendor that completed it, so a segment replayed after a failover is stored whole, never with
the fragment of the vendor that died. Each hit is its own usage row (vendor ``cache``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from gateway.speech_cache.billing import bill_hit
from gateway.speech_cache.stage import SpeechCache
from gateway.speech_cache.store import CachedAudio
from providers.base import SynthesisRequest

HIT_SEGMENT_BASE = 100_000  # usage rows of hits are numbered apart from the vendor segments of the same session


class SegmentCache:
    def __init__(
        self, cache: SpeechCache, found: Any, headers: Mapping[str, str], *, voice: str | None, sample_rate: int,
        pinned: str | None, describe: Callable[[Any], tuple[str, str]],
    ) -> None:  # fmt: skip
        """``found`` is the session's ``Caller``; ``describe(leg)`` names the (vendor, model) of a relay leg."""
        self.cache = cache
        self.found = found
        self.headers = dict(headers)
        self.voice = voice
        self.sample_rate = sample_rate
        self.pinned = pinned
        self.describe = describe
        self.hits = 0

    def _request(self, text: str) -> SynthesisRequest:
        return SynthesisRequest(text=text, voice=self.voice, format="pcm", sample_rate=self.sample_rate)

    async def lookup(self, text: str) -> CachedAudio | None:
        lookup = await self.cache.lookup(self.found.workspace_id, self.headers, self._request(text),
                                         pinned=self.pinned, dialect="speak")  # fmt: skip
        if lookup.entry is not None:
            bill_hit(self.found, lookup.entry, lookup.policy.price_per_million_chars,
                     segment=HIT_SEGMENT_BASE + self.hits)  # fmt: skip
            self.hits += 1
        return lookup.entry

    async def keep(self, text: str, audio: bytes, leg: Any) -> None:
        lookup = await self.cache.lookup(self.found.workspace_id, self.headers, self._request(text),
                                         pinned=self.pinned, dialect="speak", consult=False)  # fmt: skip
        provider, model = self.describe(leg)
        lookup.store(audio, content_type="audio/pcm", provider=provider, model=model, characters=len(text),
                     sample_rate=self.sample_rate)  # fmt: skip

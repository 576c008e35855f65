"""A small per-isolate cache with expiry: how the hot path avoids a database round trip per request.

Entries expire ``seconds`` after they were stored (monotonic clock); admin writes through this process invalidate
them at once. ``None`` is a value like any other (a known miss, e.g. an unknown key, is cached too). The cache is
bounded: when full it is cleared, which costs one reload per live key.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from typing import Generic, TypeVar

from gateway.ports import Clock

K = TypeVar("K")
V = TypeVar("V")

_MISSING = object()


class TtlCache(Generic[K, V]):
    def __init__(self, clock: Clock, seconds: float, max_entries: int = 10_000) -> None:
        self.clock = clock
        self.seconds = seconds
        self.max_entries = max_entries
        self._entries: dict[K, tuple[V, float]] = {}

    def get(self, key: K, default: object = _MISSING) -> V | object:
        """The live value for ``key``, or ``default`` (a sentinel by default: see :meth:`get_or_load`)."""
        entry = self._entries.get(key)
        if entry is not None and entry[1] > self.clock.monotonic():
            return entry[0]
        return default

    def put(self, key: K, value: V) -> V:
        if len(self._entries) >= self.max_entries and key not in self._entries:
            self._entries.clear()
        self._entries[key] = (value, self.clock.monotonic() + self.seconds)
        return value

    async def get_or_load(self, key: K, load: Callable[[], Awaitable[V]]) -> V:
        found = self.get(key)
        if found is not _MISSING:
            return found  # type: ignore[return-value]
        return self.put(key, await load())

    def pop(self, key: K) -> None:
        self._entries.pop(key, None)

    def clear(self) -> None:
        self._entries.clear()

    def items(self) -> Iterator[tuple[K, V]]:
        """Every stored entry, live or expired (for targeted invalidation)."""
        return ((key, value) for key, (value, _) in list(self._entries.items()))

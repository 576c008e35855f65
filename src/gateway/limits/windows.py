"""Exact sliding-window request counting.

A window remembers every grant as ``[ends_at, count, lease_id]``: ``count`` permits that stop counting at
``ends_at``. A permit handed out in a lease may be used at any moment until the lease's ``permit_ttl`` runs out, so it
is recorded as if used at the *latest* possible moment (``now + permit_ttl``) and keeps counting until
``now + permit_ttl + window``. That way no trailing window ever holds more real uses than the limit: the count can be
conservative, never generous. Permits returned unused are taken off their entry (they were never used).
"""

from __future__ import annotations

import heapq
from typing import Any


class Window:
    __slots__ = ("entries", "seconds", "total")

    def __init__(self, seconds: float, entries: list[list[Any]] | None = None) -> None:
        self.seconds = seconds
        self.entries: list[list[Any]] = [list(e) for e in entries or ()]
        heapq.heapify(self.entries)  # earliest end first: pruning is exact and O(log n) per entry
        self.total = sum(int(e[1]) for e in self.entries)

    def prune(self, now: float) -> None:
        entries = self.entries
        while entries and entries[0][0] <= now:
            self.total -= heapq.heappop(entries)[1]

    def room(self, now: float, limit: int) -> int:
        self.prune(now)
        return max(0, limit - self.total)

    def add(self, now: float, permit_ttl: float, count: int, lease_id: str) -> None:
        if count > 0:
            heapq.heappush(self.entries, [now + permit_ttl + self.seconds, count, lease_id])
            self.total += count

    def give_back(self, lease_id: str, count: int) -> None:
        if count <= 0:
            return
        for entry in self.entries:
            if entry[2] == lease_id:
                returned = min(count, entry[1])
                entry[1] -= returned
                self.total -= returned
                return

    def retry_after(self, now: float, limit: int, wanted: int) -> float:
        """Seconds until ``wanted`` more permits fit under ``limit``."""
        self.prune(now)
        excess = self.total + wanted - limit
        if excess <= 0:
            return 0.0
        # Walk a copy of the heap earliest first: usually one pop answers, where sorting cost O(n log n) on every
        # refused request (a flood of refusals is exactly when this runs).
        heap = self.entries.copy()
        while heap:
            ends_at, count, _ = heapq.heappop(heap)
            excess -= count
            if excess <= 0:
                return max(0.0, ends_at - now)
        return self.seconds

    def to_json(self) -> list[list[Any]]:
        return [list(e) for e in self.entries if e[1] > 0]

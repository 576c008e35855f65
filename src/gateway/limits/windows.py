"""Exact sliding-window request counting.

A window remembers every grant as ``[ends_at, count, lease_id]``: ``count`` permits that stop counting at
``ends_at``. A permit handed out in a lease may be used at any moment until the lease's ``permit_ttl`` runs out, so it
is recorded as if used at the *latest* possible moment (``now + permit_ttl``) and keeps counting until
``now + permit_ttl + window``. That way no trailing window ever holds more real uses than the limit: the count can be
conservative, never generous. Permits returned unused are taken off their entry (they were never used).

Grants are kept in buckets, not one entry per grant: ``ends_at`` is rounded *up* to ~1/3600 of the window (1 s for
the hour, 1/64 s for the minute) and grants ending in the same bucket share an entry, so a window holds at most
~3600 entries however many requests it counts (one per request grew memory without bound at high rates). Rounding
up keeps the count conservative. A grant's lease is remembered only until its lease gives back (or is dropped).
"""

from __future__ import annotations

import heapq
import math
from typing import Any


class Window:
    __slots__ = ("_last", "_leases", "_span", "entries", "quantum", "seconds", "total")

    def __init__(self, seconds: float, entries: list[list[Any]] | None = None) -> None:
        self.seconds = seconds
        # ~1/3600 of the window as a power of two (1/64 s for a minute, 1 s for an hour): exact in binary floating
        # point, so grants at whole seconds keep exact ends
        self.quantum = 2.0 ** math.floor(math.log2(seconds / 3600))
        self._span = seconds  # the longest a grant counts (its permit_ttl + the window)
        self.entries: list[list[Any]] = [list(e) for e in entries or ()]
        heapq.heapify(self.entries)  # earliest end first: pruning is exact and O(log n) per entry
        self.total = sum(int(e[1]) for e in self.entries)
        self._last: list[Any] | None = None  # the bucket most recently added to (grants arrive in time order)
        self._leases: dict[str, tuple[list[Any], int]] = {}  # lease id → (its bucket, permits it put there)
        for entry in self.entries:  # to_json writes each lease still open as its own entry
            if entry[2]:
                self._leases[entry[2]] = (entry, int(entry[1]))

    def prune(self, now: float) -> None:
        entries = self.entries
        while entries and entries[0][0] <= now:
            entry = heapq.heappop(entries)
            self.total -= entry[1]
            entry[1] = 0  # a lease giving back into an expired bucket changes nothing

    def room(self, now: float, limit: int) -> int:
        self.prune(now)
        return max(0, limit - self.total)

    def add(self, now: float, permit_ttl: float, count: int, lease_id: str) -> None:
        if count <= 0:
            return
        ends_at = math.ceil((now + permit_ttl + self.seconds) / self.quantum) * self.quantum
        self._span = max(self._span, permit_ttl + self.seconds)
        last = self._last
        if last is not None and last[0] == ends_at and last[1] > 0:
            last[1] += count
        else:
            last = self._last = [ends_at, count, lease_id]
            heapq.heappush(self.entries, last)
        self.total += count
        self._leases[lease_id] = (last, count)

    def give_back(self, lease_id: str, count: int) -> None:
        """The lease is done: ``count`` of its permits were never used. Called for every lease (``count`` 0 too), so
        the lease is forgotten here."""
        held = self._leases.pop(lease_id, None)
        if held is None or count <= 0:
            return
        entry, permits = held
        returned = min(count, permits, entry[1])
        entry[1] -= returned
        self.total -= returned

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
            if excess <= 0:  # a bucket's rounding never pushes the wait past the longest a grant can count
                return max(0.0, min(ends_at - now, self._span))
        return self.seconds

    def to_json(self) -> list[list[Any]]:
        """``[ends_at, count, lease_id]`` per open lease (so it can still give back after a restore) and
        ``[ends_at, count, ""]`` for the rest of each bucket."""
        open_in: dict[int, list[tuple[str, int]]] = {}
        for lease_id, (entry, permits) in self._leases.items():
            open_in.setdefault(id(entry), []).append((lease_id, permits))
        out: list[list[Any]] = []
        for entry in self.entries:
            rest = entry[1]
            for lease_id, permits in open_in.get(id(entry), ()):
                share = min(permits, rest)
                if share > 0:
                    out.append([entry[0], share, lease_id])
                    rest -= share
            if rest > 0:
                out.append([entry[0], rest, ""])
        return out

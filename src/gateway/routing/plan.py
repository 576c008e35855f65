"""Which of the ordered candidates to try now, and which to hold back as a last resort.

A candidate is held back when its breaker (for this credential) is open, when its credential is cooling after a
429, or when the global health snapshot says the vendor is down (while that news is fresh). Held candidates are not
dropped: if every candidate tried first fails, they are tried after all, in this order — globally down first (the
isolate has no evidence of its own), then cooling (waiting out Retry-After when it fits the deadline), then
breaker-open (soonest to reopen first). A breaker saves time; it never costs a request that could still succeed.

Global health alone never holds back every keyed vendor: when all of them look down, the snapshot is ignored and
they are tried in the strategy's order, the built-in engine last.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from gateway.routing.breaker import OPEN, Breakers
from gateway.routing.directory import Candidate

GLOBAL_DOWN, COOLING, BREAKER_OPEN = "global_down", "cooling", "breaker_open"
_HELD_RANK = {GLOBAL_DOWN: 0, COOLING: 1, BREAKER_OPEN: 2}


@dataclass
class Held:
    candidate: Candidate
    reason: str  # global_down | cooling | breaker_open
    position: int  # its place in the strategy's order (keeps held ones in that order within a reason)


def plan_attempts(
    candidates: Sequence[Candidate], breakers: Breakers, globally_down: Callable[[str], bool]
) -> tuple[list[Candidate], list[Held]]:
    keyed_down = {c.id for c in candidates if c.source != "builtin" and globally_down(c.id)}
    if keyed_down and all(c.id in keyed_down for c in candidates if c.source != "builtin"):
        keyed_down = set()  # everything looks down: do not trust the snapshot over trying
    ready: list[Candidate] = []
    held: list[Held] = []
    for position, candidate in enumerate(candidates):
        reason = hold_reason(candidate, breakers, candidate.id in keyed_down)
        if reason is None:
            ready.append(candidate)
        else:
            held.append(Held(candidate, reason, position))
    return ready, held


def hold_reason(candidate: Candidate, breakers: Breakers, down: bool) -> str | None:
    if breakers.state(candidate.id, candidate.fingerprint) == OPEN:
        return BREAKER_OPEN
    if breakers.cooling_for(candidate.id, candidate.fingerprint) > 0:
        return COOLING
    if down:
        return GLOBAL_DOWN
    return None


def last_resort_order(held: list[Held], breakers: Breakers) -> list[Held]:
    def key(h: Held) -> tuple[int, float, int]:
        c = h.candidate
        if h.reason == BREAKER_OPEN:
            wait = breakers.get(c.id, c.fingerprint).reopens_in
        elif h.reason == COOLING:
            wait = breakers.cooling_for(c.id, c.fingerprint)
        else:
            wait = 0.0
        return (_HELD_RANK[h.reason], wait, h.position)

    return sorted(held, key=key)

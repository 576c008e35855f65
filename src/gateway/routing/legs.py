"""Realtime legs through the attempt planner: which vendor leg a WebSocket session opens next.

A realtime session (``/voice/realtime``, ``/voice/speak-stream``) has an ordered list of legs (vendor × route) and
opens one at a time, at the start and again at every mid-session switch. Each time it needs one, the legs not yet
tried go through ``routing.plan.plan_attempts`` — the planner the HTTP failover uses — against the breakers and
cool-downs *as they are now*: a vendor whose breaker opened, or whose credential started cooling after a 429, while
the session was running is held back from the switch too. Held legs stay a last resort in the planner's last-resort
order, as for HTTP: a breaker-open one is forced; a cooling one is waited out when its cool-down is at most
``max_wait`` (a session cannot sit on a long Retry-After), and otherwise not tried (it counts as rate limited).

Outcomes go to the ``FailoverRunner``'s bookkeeping with the admission the leg was opened under, so a half-open
breaker's trial carried by a session closes or reopens it exactly like an HTTP attempt does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from gateway.errors import ErrorClass, ProviderError
from gateway.routing.breaker import Admission
from gateway.routing.directory import Candidate
from gateway.routing.plan import BREAKER_OPEN, COOLING, Held, last_resort_order, plan_attempts

if TYPE_CHECKING:
    from gateway.routing.failover import FailoverRunner


class LegLike(Protocol):
    @property
    def candidate(self) -> Candidate: ...

    @property
    def provider_id(self) -> str: ...


L = TypeVar("L", bound=LegLike)


class LegPlan(Generic[L]):
    """The legs of one session, handed out one at a time through the planner; outcomes fed to the runner."""

    def __init__(
        self, legs: Sequence[L], runner: FailoverRunner, *, request_id: str, workspace_id: str | None, max_wait: float,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:  # fmt: skip
        self._untried = list(legs)
        self.runner = runner
        self.request_id = request_id
        self.workspace_id = workspace_id
        self.max_wait = max_wait
        self._sleep = sleep
        self._admissions: dict[int, Admission] = {}  # id(leg) → how it was admitted
        self.errors: list[ProviderError] = []  # every leg failure and every cooling leg not tried, in order
        self.held: list[str] = []  # vendors the planner held back at some point (for logs and tests)

    def _plan(self) -> tuple[list[int], list[Held]]:
        """(positions in ``_untried`` ready now, held ones) — the HTTP planner's verdict on the remaining legs."""
        candidates = [leg.candidate for leg in self._untried]
        _, held = plan_attempts(candidates, self.runner.breakers, self.runner.health.globally_down)
        held_at = {h.position for h in held}
        return [i for i in range(len(candidates)) if i not in held_at], held

    async def next(self) -> L | None:
        """The leg to open now (admitted through its breaker), or None when every leg was tried."""
        while self._untried:
            ready, held = self._plan()
            self._note_held(held)
            for position in ready:
                leg = self._untried[position]
                admission = self.runner.breakers.get(leg.candidate.id, leg.candidate.fingerprint).admit()
                if admission == Admission.DENIED:  # half-open, its one trial in flight in another request
                    held.append(Held(leg.candidate, BREAKER_OPEN, position))
                    self._note_held(held)
                    continue
                return self._take(position, admission)
            spare = self._last_resort(held)
            leg = self._untried[spare.position]
            if spare.reason == COOLING:
                wait = self.runner.breakers.cooling_for(leg.candidate.id, leg.candidate.fingerprint)
                if wait > self.max_wait:
                    del self._untried[spare.position]
                    message = f"rate limited; cooling for {wait:.1f}s more"
                    self.errors.append(
                        ProviderError(leg.provider_id, ErrorClass.RATE_LIMITED, message, retry_after=wait)
                    )
                    continue
                if wait > 0:
                    await self._sleep(wait)
            return self._take(spare.position, Admission.FORCED)
        return None

    def _last_resort(self, held: list[Held]) -> Held:
        """The planner's first last resort; of several legs of that same credential, the earliest in the session's
        order (their waits differ only by when the clock was read)."""
        first = last_resort_order(held, self.runner.breakers)[0]
        key = (first.candidate.id, first.candidate.fingerprint, first.reason)
        return min((h for h in held if (h.candidate.id, h.candidate.fingerprint, h.reason) == key),
                   key=lambda h: h.position)  # fmt: skip

    def _note_held(self, held: list[Held]) -> None:
        self.held.extend(dict.fromkeys(h.candidate.id for h in held if h.candidate.id not in self.held))

    def _take(self, position: int, admission: Admission) -> L:
        leg = self._untried.pop(position)
        self._admissions[id(leg)] = admission
        return leg

    def following(self) -> str | None:
        """The vendor the next switch would go to as things stand (nothing is admitted)."""
        if not self._untried:
            return None
        ready, held = self._plan()
        if ready:
            return self._untried[ready[0]].provider_id
        return self._last_resort(held).candidate.id

    def opened(self, leg: L, latency_ms: float) -> None:
        self.runner.stream_opened(leg.candidate, latency_ms, self._admissions.pop(id(leg), Admission.ALLOWED))

    def failed(self, leg: L, error: ProviderError) -> None:
        """A leg that failed to open or failed mid-session: its breaker, cool-down, health, and a failover row."""
        self.errors.append(error)
        self.runner.stream_failed(
            leg.candidate, error, request_id=self.request_id, workspace_id=self.workspace_id,
            following=self.following(), admission=self._admissions.pop(id(leg), Admission.ALLOWED),
        )  # fmt: skip

    def abandoned(self, leg: L) -> None:
        """The session ended while this leg was opening: free a half-open trial it carried."""
        admission = self._admissions.pop(id(leg), Admission.ALLOWED)
        self.runner.breakers.get(leg.candidate.id, leg.candidate.fingerprint).abandon(admission)

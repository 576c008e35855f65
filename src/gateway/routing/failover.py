"""Try candidates in order until one succeeds, within a per-attempt timeout and an overall deadline.

Every failure is classified (``gateway.errors.ErrorClass``); every class moves on to the next vendor. Candidates whose
breaker is open, whose credential is cooling after a 429, or that the global snapshot reports down are held back and
only tried when everything else failed (``routing.plan``). Each outcome feeds the credential's breaker at once and
becomes a health observation (batched); each switch is logged for ``failover_logs`` after the response.

Same-vendor retry: only once, only for the last vendor left, only when it answered 429/5xx *with* a Retry-After
that fits in what is left of the deadline — the vendor said when it will take the request, and there is nobody
else to ask. Without Retry-After the vendor gave no reason to expect a different answer.

When every vendor failed, the client gets one error naming every attempt: 4xx when every vendor rejected the input
itself, 504 when every vendor timed out, 502 otherwise (with Retry-After when every vendor was rate limiting).

An attempt that streams returns at its first chunk, so the latency measured here is time to first byte.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from gateway.errors import (
    CLIENT_FAULTS,
    HEALTH_FAILURES,
    ErrorClass,
    GatewayError,
    InvalidRequest,
    NoProvidersAvailable,
    ProviderError,
    UpstreamError,
    UpstreamTimeout,
)
from gateway.health.client import HealthClient
from gateway.metrics import Metrics
from gateway.ports import Clock
from gateway.recorder import Recorder
from gateway.redaction import redact, redact_error, secrets_of
from gateway.routing.breaker import Admission, BreakerPolicy, Breakers
from gateway.routing.directory import Candidate
from gateway.routing.plan import BREAKER_OPEN, COOLING, Held, last_resort_order, plan_attempts
from gateway.store.failovers import FailoverEvent
from providers.base import Call

log = logging.getLogger("gateway.failover")

T = TypeVar("T")


@dataclass
class Attempts(Generic[T]):
    """What happened during one request's failover loop."""

    result: T | None = None
    winner: Candidate | None = None
    errors: list[ProviderError] = field(default_factory=list)
    held: list[str] = field(default_factory=list)  # vendors held back (breaker open, cooling, down), never tried

    @property
    def count(self) -> int:
        return len(self.errors) + (1 if self.winner is not None else 0)

    def summary(self) -> list[dict[str, Any]]:
        return [e.attempt() for e in self.errors]


@dataclass
class FailoverPolicy:
    attempt_timeout: float
    deadline: float


SAME_VENDOR_RETRY = frozenset({ErrorClass.RATE_LIMITED, ErrorClass.SERVER})
MIN_ATTEMPT_SECONDS = 0.05  # a wait that leaves less than this for the attempt itself is not worth it


class FailoverRunner:
    def __init__(
        self, health: HealthClient, recorder: Recorder, clock: Clock, http: Any, bindings: Any,
        breakers: Breakers | None = None, metrics: Metrics | None = None,
    ) -> None:  # fmt: skip
        self.health = health
        self.recorder = recorder
        self.clock = clock
        self.http = http
        self.bindings = bindings
        self.breakers = breakers or Breakers(BreakerPolicy(), clock)
        self.metrics = metrics
        # Told the request id when a request first reaches a vendor (the limits count it from then on).
        self.on_vendor_call: list[Callable[[str], None]] = []

    async def run(
        self,
        candidates: Sequence[Candidate],
        attempt: Callable[[Candidate, Call], Awaitable[T]],
        *,
        policy: FailoverPolicy,
        request_id: str,
        workspace_id: str | None,
    ) -> Attempts[T]:
        if not candidates:
            raise NoProvidersAvailable("no vendor is configured that can serve this request")
        outcome: Attempts[T] = Attempts()
        started = self.clock.monotonic()
        ready, held = plan_attempts(candidates, self.breakers, self.health.globally_down)
        queue = deque(ready)
        held_ids = [h.candidate.id for h in held]
        last_resort: list[Held] | None = None  # ordered once the ready ones are used up
        retried = False
        retry: tuple[Candidate, float] | None = None
        not_tried: list[ProviderError] = []  # cooling vendors whose Retry-After outlasts the deadline (no call made)

        def remaining() -> float:
            return policy.deadline - (self.clock.monotonic() - started)

        while True:
            wait = 0.0
            if retry is not None:
                (candidate, wait), retry = retry, None
                admission = Admission.FORCED
            elif queue:
                candidate = queue.popleft()
                admission = self.breakers.get(candidate.id, candidate.fingerprint).admit()
                if admission == Admission.DENIED:  # half-open with its one trial already in flight elsewhere
                    held.append(Held(candidate, BREAKER_OPEN, len(candidates)))
                    held_ids.append(candidate.id)
                    continue
            else:
                if last_resort is None:
                    last_resort = last_resort_order(held, self.breakers)
                if not last_resort:
                    break
                spare = last_resort.pop(0)
                candidate, admission = spare.candidate, Admission.FORCED
                if spare.reason == COOLING:
                    wait = self.breakers.cooling_for(candidate.id, candidate.fingerprint)
                    if wait + MIN_ATTEMPT_SECONDS > remaining():
                        not_tried.append(ProviderError(
                            candidate.id, ErrorClass.RATE_LIMITED, f"rate limited; cooling for {wait:.1f}s more",
                            retry_after=wait,
                        ))  # fmt: skip
                        continue
            if wait > 0:
                await asyncio.sleep(wait)
            left = remaining()
            if left <= 0:
                break
            if not outcome.errors and outcome.winner is None:
                for listener in self.on_vendor_call:
                    listener(request_id)
            error = await self._attempt(candidate, admission, attempt, min(policy.attempt_timeout, left), outcome)
            if error is None:
                outcome.held = [i for i in held_ids if i != candidate.id]
                return outcome
            outcome.errors.append(error)
            nothing_left = not queue and (not (last_resort if last_resort is not None else held))
            if (
                nothing_left and not retried and error.error_class in SAME_VENDOR_RETRY
                and error.retry_after is not None and error.retry_after + MIN_ATTEMPT_SECONDS <= remaining()
            ):  # fmt: skip
                retried = True
                retry = (candidate, error.retry_after)
                self._log_switch(request_id, workspace_id, candidate, candidate.id, error, started, "retried")
                continue
            next_id = self._peek_next(queue, last_resort, held)
            self._log_switch(request_id, workspace_id, candidate, next_id, error, started,
                             "switched" if next_id else "exhausted")  # fmt: skip
        raise self._exhausted(outcome.errors + not_tried)

    async def _attempt(
        self, candidate: Candidate, admission: Admission, attempt: Callable[[Candidate, Call], Awaitable[T]],
        timeout: float, outcome: Attempts[T],
    ) -> ProviderError | None:  # fmt: skip
        """One attempt; feeds the breaker and the health observations. Returns the failure, or None on success."""
        call = Call(http=self.http, credentials=candidate.credentials, timeout=timeout, bindings=self.bindings)
        breaker = self.breakers.get(candidate.id, candidate.fingerprint)
        attempt_started = self.clock.monotonic()
        try:
            async with asyncio.timeout(timeout):  # not wait_for: on 3.11 that is one more task per attempt
                result = await attempt(candidate, call)
        except ProviderError as exc:
            error = exc
        except TimeoutError:
            error = ProviderError(candidate.id, ErrorClass.TIMEOUT, f"no answer within {timeout:.1f}s")
        except GatewayError:
            breaker.abandon(admission)
            raise
        except asyncio.CancelledError:
            breaker.abandon(admission)
            raise
        except Exception as exc:  # an adapter bug must not become a bare 500: treat it as a vendor failure
            # The traceback may quote what the adapter was sending (a URL with ?key=): scrubbed like the messages.
            log.error(
                "adapter %s raised unexpectedly:\n%s",
                candidate.id,
                redact(traceback.format_exc(), secrets_of(candidate.credentials)),
            )
            error = ProviderError(candidate.id, ErrorClass.SERVER, f"adapter error: {type(exc).__name__}")
        else:
            self._record_success(candidate, (self.clock.monotonic() - attempt_started) * 1000, admission)
            outcome.result, outcome.winner = result, candidate
            return None
        redact_error(error, candidate.credentials)
        self._record_failure(candidate, error, admission)
        return error

    def _record_success(self, candidate: Candidate, latency_ms: float, admission: Admission) -> None:
        if self.metrics is not None:
            self.metrics.attempt(candidate.id, "ok", latency_ms / 1000, candidate.kind)
        self.breakers.record(candidate.id, candidate.fingerprint, None, admission)
        self.health.observe(candidate.id, True, latency_ms, kind=candidate.kind)

    def stream_opened(self, candidate: Candidate, latency_ms: float, admission: Admission = Admission.ALLOWED) -> None:
        """A vendor connection opened outside ``run`` (a realtime leg): fed like a successful attempt."""
        self._record_success(candidate, latency_ms, admission)

    def _record_failure(self, candidate: Candidate, error: ProviderError, admission: Admission) -> None:
        """What every vendor failure feeds: its breaker (and 429 cool-down), the metrics, the global health."""
        self.breakers.record(candidate.id, candidate.fingerprint, error.error_class, admission, error.retry_after)
        if self.metrics is not None:
            self.metrics.attempt(candidate.id, error.error_class.value)
        if error.error_class == ErrorClass.AUTH:
            log.warning("%s rejected credential %s (auth): skipping it until its breaker half-opens",
                        candidate.id, candidate.fingerprint)  # fmt: skip
        if error.error_class in HEALTH_FAILURES:
            self.health.observe(candidate.id, False, None, error.error_class.value, kind=candidate.kind)

    def stream_failed(
        self, candidate: Candidate, error: ProviderError, *, request_id: str, workspace_id: str | None,
        following: str | None, admission: Admission = Admission.ALLOWED,
    ) -> None:  # fmt: skip
        """A vendor that failed after this runner handed it over (a stream cut mid-body, a realtime session dropped):
        the same breaker, metrics, health observation and failover row as a failed attempt."""
        redact_error(error, candidate.credentials)
        self._record_failure(candidate, error, admission)
        self._log_switch(request_id, workspace_id, candidate, following, error, self.clock.monotonic(),
                         "switched" if following else "exhausted")  # fmt: skip

    @staticmethod
    def _peek_next(queue: deque[Candidate], last_resort: list[Held] | None, held: list[Held]) -> str | None:
        if queue:
            return queue[0].id
        spares = last_resort if last_resort is not None else held
        return spares[0].candidate.id if spares else None

    def _log_switch(
        self, request_id: str, workspace_id: str | None, candidate: Candidate, next_id: str | None,
        error: ProviderError, started: float, result: str,
    ) -> None:  # fmt: skip
        if self.metrics is not None:
            self.metrics.failover(candidate.id, next_id)
            self.metrics.failover_outcome(result)
        self.recorder.record_failover(
            FailoverEvent(
                request_id=request_id,
                workspace_id=workspace_id,
                from_provider=candidate.id,
                to_provider=next_id,
                error_class=error.error_class.value,
                elapsed_ms=int((self.clock.monotonic() - started) * 1000),
                result=result,
                created_at=int(self.clock.time() * 1000),
            )
        )

    @staticmethod
    def _exhausted(errors: list[ProviderError]) -> GatewayError:
        attempts = [e.attempt() for e in errors]
        if not errors:
            return UpstreamTimeout("the request deadline passed before any vendor could be tried", attempts=attempts)
        classes = {e.error_class for e in errors}
        if classes <= CLIENT_FAULTS:
            return InvalidRequest("every vendor rejected this input", attempts=attempts)
        if classes == {ErrorClass.TIMEOUT}:
            return UpstreamTimeout("every vendor timed out", attempts=attempts)
        if classes == {ErrorClass.RATE_LIMITED}:
            waits = [e.retry_after for e in errors if e.retry_after is not None]
            return UpstreamError(
                "every vendor is rate limiting", attempts=attempts, retry_after=min(waits) if waits else None
            )
        return UpstreamError("every vendor failed", attempts=attempts)

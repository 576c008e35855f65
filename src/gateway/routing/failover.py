"""Try candidates in order until one succeeds, within a per-attempt timeout and an overall deadline.

Every failure is classified (``gateway.errors.ErrorClass``); every class moves on to the next vendor. Each switch is
logged for ``failover_logs`` and each outcome becomes a health observation, both written after the response. When
every vendor failed, the client gets one error naming every attempt: 4xx when every vendor rejected the input itself,
504 when every vendor timed out, 502 otherwise.
"""

from __future__ import annotations

import asyncio
import logging
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
from gateway.ports import Clock
from gateway.recorder import Recorder
from gateway.routing.directory import Candidate
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

    @property
    def count(self) -> int:
        return len(self.errors) + (1 if self.winner is not None else 0)

    def summary(self) -> list[dict[str, Any]]:
        return [e.attempt() for e in self.errors]


@dataclass
class FailoverPolicy:
    attempt_timeout: float
    deadline: float


class FailoverRunner:
    def __init__(self, health: HealthClient, recorder: Recorder, clock: Clock, http: Any, bindings: Any) -> None:
        self.health = health
        self.recorder = recorder
        self.clock = clock
        self.http = http
        self.bindings = bindings

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
        for index, candidate in enumerate(candidates):
            remaining = policy.deadline - (self.clock.monotonic() - started)
            if remaining <= 0:
                break
            timeout = min(policy.attempt_timeout, remaining)
            call = Call(http=self.http, credentials=candidate.credentials, timeout=timeout, bindings=self.bindings)
            attempt_started = self.clock.monotonic()
            try:
                result = await asyncio.wait_for(attempt(candidate, call), timeout)
            except ProviderError as exc:
                error = exc
            except asyncio.TimeoutError:
                error = ProviderError(candidate.id, ErrorClass.TIMEOUT, f"no answer within {timeout:.1f}s")
            except GatewayError:
                raise
            except Exception as exc:  # an adapter bug must not become a bare 500: treat it as a vendor failure
                log.exception("adapter %s raised unexpectedly", candidate.id)
                error = ProviderError(candidate.id, ErrorClass.SERVER, f"adapter error: {type(exc).__name__}")
            else:
                latency_ms = (self.clock.monotonic() - attempt_started) * 1000
                self.health.observe(candidate.id, True, latency_ms)
                outcome.result, outcome.winner = result, candidate
                return outcome
            outcome.errors.append(error)
            if error.error_class in HEALTH_FAILURES:
                self.health.observe(candidate.id, False, None, error.error_class.value)
            next_id = candidates[index + 1].id if index + 1 < len(candidates) else None
            self.recorder.record_failover(
                FailoverEvent(
                    request_id=request_id,
                    workspace_id=workspace_id,
                    from_provider=candidate.id,
                    to_provider=next_id,
                    error_class=error.error_class.value,
                    elapsed_ms=int((self.clock.monotonic() - started) * 1000),
                    result="switched" if next_id else "exhausted",
                    created_at=int(self.clock.time() * 1000),
                )
            )
        raise self._exhausted(outcome.errors)

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
        return UpstreamError("every vendor failed", attempts=attempts)

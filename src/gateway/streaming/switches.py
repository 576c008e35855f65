"""A vendor failing inside a stream, after the failover runner handed it over: the same health observation and
failover row the runner writes for a failed attempt (``/voice/stream`` mid-body, ``/voice/realtime``,
``/voice/speak-stream``)."""

from __future__ import annotations

from gateway.errors import ProviderError
from gateway.routing.failover import FailoverRunner
from gateway.store.failovers import FailoverEvent


def record_vendor_failure(
    runner: FailoverRunner, request_id: str, workspace_id: str | None, provider_id: str, error: ProviderError,
    following: str | None,
) -> None:  # fmt: skip
    runner.health.observe(provider_id, False, None, error.error_class.value)
    runner.recorder.record_failover(FailoverEvent(
        request_id=request_id, workspace_id=workspace_id, from_provider=provider_id, to_provider=following,
        error_class=error.error_class.value, elapsed_ms=0, result="switched" if following else "exhausted",
        created_at=int(runner.clock.time() * 1000),
    ))  # fmt: skip

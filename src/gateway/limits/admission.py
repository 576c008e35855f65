"""Admission for one HTTP request or WebSocket session, released when its response (or session) ends."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from gateway.limits.service import Ask, LimitsService, Ticket
from gateway.middleware import on_response_end

# HTTP routes whose response is a long stream: they hold a ``concurrentStreams`` slot while the body flows.
STREAM_PATHS = frozenset({"/voice/stream"})


async def admit(
    limits: LimitsService,
    scope: MutableMapping[str, Any],
    *,
    workspace_id: str,
    key_id: str | None,
    workspace_limits: dict[str, Any],
    request_id: str,
    stream: bool | None = None,
    estimate_micros: int | None = None,
    audio_estimate_ms: int = 0,
) -> Ticket:
    """Admit or raise ``RateLimited``/``QuotaExceeded``. The ticket is released when the ASGI call for ``scope``
    returns (after the last body chunk, or when the WebSocket handler ends); releasing earlier is allowed."""
    if stream is None:
        stream = scope.get("type") == "websocket" or scope.get("path") in STREAM_PATHS
    if estimate_micros is None:  # the route reserves its cheapest vendor's estimate once it knows its candidates
        estimate_micros = limits.admission_estimate
    ticket = await limits.admit(
        Ask(
            workspace_id=workspace_id,
            key_id=key_id,
            request_id=request_id,
            limits=workspace_limits,
            estimate_micros=estimate_micros,
            audio_estimate_ms=audio_estimate_ms,
            stream=stream,
        )
    )
    state = scope.setdefault("state", {})
    on_response_end(scope, lambda: ticket.release(status=state.get("response_status")))
    return ticket

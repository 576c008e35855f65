"""The request log's hook: every API request and realtime session ends as one ``RequestRow`` (recorded with the
usage rows) and one structured JSON line on stdout (Workers Logs reads ``console.log``); the same place feeds the
request metrics.

A ``RequestTrace`` rides in the ASGI scope's state; the request path fills in what only it knows (who called, which
vendor answered after how many attempts, units and cost) and this middleware adds what only the transport knows
(status, latency, time to first byte, the error envelope's type). Never the request text or audio.
"""

from __future__ import annotations

import json
import logging
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gateway.store.request_log import RequestRow, prune_statement

if TYPE_CHECKING:
    from gateway.pipeline.usage import UsageEvent

log = logging.getLogger("gateway.requests")

Scope = dict[str, Any]

# Served files and liveness probes are not API requests: they would bury the log.
UNLOGGED_PREFIXES = ("/console", "/docs", "/redoc", "/openapi.json", "/favicon.ico")
UNLOGGED_PATHS = frozenset({"/health", "/"})
# What a route asks of vendors, for requests that never got as far as a usage row (failures).
ROUTE_CAPABILITIES = {
    "/voice/synthesize": "tts", "/voice/stream": "tts", "/voice/speak-stream": "tts", "/v1/audio/speech": "tts",
    "/voice/transcribe": "stt", "/voice/realtime": "stt", "/v1/audio/transcriptions": "stt",
    "/llm/generate": "llm", "/llm/generate-script": "llm", "/v1/chat/completions": "llm",
}  # fmt: skip
LIMIT_ERRORS = frozenset({"rate_limited", "quota_exceeded"})
PRUNE_EVERY_SECONDS = 3600.0
ERROR_BODY_BYTES = 4096  # enough of an error response to read the envelope's type


@dataclass(slots=True)
class RequestTrace:
    """What the request path learned about one request. Updated in place; read once when the response ends."""

    workspace_id: str | None = None
    api_key_id: str | None = None
    vendor: str | None = None
    capability: str | None = None
    attempts: int = 0
    characters: int | None = None
    audio_seconds: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost_micros: int = 0

    def add_usage(self, event: UsageEvent, cost_micros: int) -> None:
        self.vendor, self.capability = event.provider, event.resource
        self.attempts = self.attempts or 1
        self.cost_micros += cost_micros
        self.characters = _add(self.characters, event.characters)
        self.audio_seconds = _add(self.audio_seconds, event.audio_seconds)
        self.input_tokens = _add(self.input_tokens, event.input_tokens)
        self.output_tokens = _add(self.output_tokens, event.output_tokens)


def _add(total: Any, more: Any) -> Any:
    if more is None:
        return total
    return more if total is None else total + more


def trace_of(scope: MutableMapping[str, Any]) -> RequestTrace:
    """This request's trace (a detached one when the middleware is not installed, e.g. in a unit test)."""
    state = scope.setdefault("state", {})
    trace = state.get("trace")
    if trace is None:
        trace = state["trace"] = RequestTrace()
    return trace  # type: ignore[no-any-return]


def _error_of(body: bytes) -> tuple[str | None, list[Any]]:
    """The envelope's error type and its vendor attempts (when every vendor failed)."""
    try:
        error = json.loads(body)["error"]
        attempts = error.get("attempts")
        return str(error["type"]), attempts if isinstance(attempts, list) else []
    except (ValueError, KeyError, TypeError, AttributeError):
        return None, []


class RequestLog:
    """One row and one stdout line per HTTP request or WebSocket session, plus the metrics only this point knows
    (time to first byte by vendor, session length, limit rejections). Driven by ``gateway.asgi.GatewayMiddleware``,
    which watches the transport."""

    def __init__(self, gateway: Any) -> None:
        self.gateway = gateway
        self.clock = gateway.runtime.clock
        env = gateway.runtime.env
        self.write_line = gateway.runtime.write_log_line
        self.stdout = (env.get("REQUEST_LOG_STDOUT") or "true").lower() not in ("0", "false", "no", "off")
        self.retention_days = float(env.get("REQUEST_LOG_RETENTION_DAYS") or 30)
        self._next_prune = 0.0

    def finish(
        self, scope: Scope, kind: str, trace: RequestTrace, created_ms: int, status: int, seconds: float,
        ttfb: float | None, error_class: str | None,
    ) -> None:  # fmt: skip
        route = getattr(scope.get("route"), "path", None) or "unmatched"
        if trace.capability is None and trace.vendor is not None:
            trace.capability = ROUTE_CAPABILITIES.get(route)
        metrics = self.gateway.metrics
        if kind == "websocket":  # HTTP requests are counted and timed by GatewayMiddleware
            metrics.session(route, status, seconds)
        if trace.vendor is not None and ttfb is not None:
            metrics.first_byte(trace.vendor, trace.capability, ttfb)
        if error_class in LIMIT_ERRORS:
            metrics.limit_rejected(error_class)  # type: ignore[arg-type]
        row = RequestRow(
            request_id=str(scope["state"].get("request_id") or ""),
            created_at=created_ms,
            workspace_id=trace.workspace_id,
            api_key_id=trace.api_key_id,
            method=scope.get("method", "GET") if kind == "http" else "WS",
            route=route,
            status=status,
            vendor=trace.vendor,
            capability=trace.capability,
            attempts=trace.attempts,
            latency_ms=int(seconds * 1000),
            ttfb_ms=None if ttfb is None else int(ttfb * 1000),
            characters=trace.characters,
            audio_seconds=trace.audio_seconds,
            input_tokens=trace.input_tokens,
            output_tokens=trace.output_tokens,
            cost_micros=trace.cost_micros,
            error_class=error_class,
        )
        try:
            self.gateway.recorder.record_request(row)
            if self.stdout:
                self.write_line(json.dumps({"msg": "request", **row.to_json()}, separators=(",", ":")))
            self._maybe_prune()
        except Exception:  # the response is already out: a logging fault must not turn into an error
            log.exception("request log failed")

    def _maybe_prune(self) -> None:
        now = self.gateway.runtime.clock.monotonic()
        if now < self._next_prune:
            return
        self._next_prune = now + PRUNE_EVERY_SECONDS
        cutoff = int((self.gateway.runtime.clock.time() - self.retention_days * 86400) * 1000)
        # Housekeeping rides with the next batch of rows (kept and retried with it if that batch fails).
        self.gateway.recorder.record_statement(prune_statement(cutoff))

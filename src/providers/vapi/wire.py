"""Vapi's wire format as pure functions (no I/O): request bodies, the Call object, server messages.

Relied on (see docs/agent-calls.md): ``POST /call`` ``{assistantId, phoneNumberId, customer: {number}}``,
``POST /call/web`` ``{assistantId}`` → ``webCallUrl``, ``GET /call/{id}``; Call fields ``id``, ``status``
(scheduled | queued | ringing | in-progress | forwarding | ended), ``startedAt``/``endedAt`` (ISO-8601), ``cost``
(USD), ``endedReason``, ``artifact.recordingUrl``, ``monitor.controlUrl``; server messages ``{"message": {"type":
"status-update" | "end-of-call-report", "call": {...}, ...}}``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from providers.agent_calls import ENDED, FAILED, IN_PROGRESS, QUEUED, RINGING, CallEvent, CallSpec, CallState, usd

STATUSES = {
    "scheduled": QUEUED, "queued": QUEUED, "ringing": RINGING, "in-progress": IN_PROGRESS,
    "forwarding": IN_PROGRESS, "ended": ENDED,
}  # fmt: skip
# endedReason values that mean the call never connected (Vapi's list is long; these prefixes cover the failures).
FAILED_REASONS = (
    "pipeline-error",
    "call.start.error",
    "twilio-failed",
    "vonage-failed",
    "assistant-not-found",
    "customer-did-not-answer",
    "customer-busy",
    "db-error",
    "phone-call-provider-closed-websocket",
)


def create_body(spec: CallSpec) -> dict[str, Any]:
    body: dict[str, Any] = {"assistantId": spec.target["assistantId"]}
    if spec.metadata:
        body["assistantOverrides"] = {"metadata": dict(spec.metadata)}
    if spec.type == "phone":
        body["phoneNumberId"] = spec.target["phoneNumberId"]
        body["customer"] = {"number": spec.to}
    return body


def create_path(spec: CallSpec) -> str:
    return "/call/web" if spec.type == "web" else "/call"


def _ms(value: Any) -> int | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return int(datetime.fromisoformat(value).timestamp() * 1000)
    except ValueError:
        return None


def status_of(raw_status: Any, ended_reason: Any) -> str:
    status = STATUSES.get(str(raw_status or ""), QUEUED)
    if status == ENDED and isinstance(ended_reason, str) and ended_reason.startswith(FAILED_REASONS):
        return FAILED
    return status


def call_state(call: dict[str, Any], base_url: str = "") -> CallState:
    """A Vapi Call object (from ``POST /call``, ``GET /call/{id}`` or a message's ``call``)."""
    artifact = call.get("artifact") if isinstance(call.get("artifact"), dict) else {}
    started, ended = _ms(call.get("startedAt")), _ms(call.get("endedAt"))
    duration = None
    if started is not None and ended is not None:
        duration = max(0.0, (ended - started) / 1000)
    state = CallState(
        vendor_call_id=str(call.get("id") or ""),
        status=status_of(call.get("status"), call.get("endedReason")),
        started_at_ms=started,
        ended_at_ms=ended,
        duration_seconds=duration,
        cost_usd=usd(call.get("cost")),
        ended_reason=call.get("endedReason"),
        transcript_url=f"{base_url}/call/{call.get('id')}" if base_url and call.get("id") else None,
        recording_url=artifact.get("recordingUrl") or call.get("recordingUrl"),
    )
    if call.get("webCallUrl"):
        state.join = {"webCallUrl": call["webCallUrl"]}
    return state


def message_of(body: Any) -> dict[str, Any] | None:
    message = body.get("message") if isinstance(body, dict) else None
    return message if isinstance(message, dict) else None


def message_call_id(body: Any) -> str | None:
    message = message_of(body)
    call = message.get("call") if message else None
    return str(call["id"]) if isinstance(call, dict) and call.get("id") else None


def parse_message(body: Any) -> CallEvent | None:
    """``status-update`` and ``end-of-call-report`` change call state; other messages are not about it."""
    message = message_of(body)
    if message is None or not isinstance(message.get("call"), dict):
        return None
    kind = message.get("type")
    call = dict(message["call"])
    if kind == "status-update":
        call["status"] = message.get("status") or call.get("status")
        call["endedReason"] = message.get("endedReason") or call.get("endedReason")
    elif kind == "end-of-call-report":
        # The report carries the final figures at its top level; the embedded call may predate them.
        call["status"] = "ended"
        for key in ("endedReason", "cost", "startedAt", "endedAt"):
            if message.get(key) is not None:
                call[key] = message[key]
        if isinstance(message.get("artifact"), dict):
            call["artifact"] = message["artifact"]
    else:
        return None
    state = call_state(call)
    if kind == "end-of-call-report" and message.get("durationSeconds") is not None:
        state.duration_seconds = float(message["durationSeconds"])
    return CallEvent(event=str(kind), state=state)

"""Retell's wire format as pure functions (no I/O): request bodies, the call object, webhook events.

Relied on (see docs/agent-calls.md): ``POST /v2/create-phone-call`` ``{from_number, to_number, override_agent_id,
metadata}``, ``POST /v2/create-web-call`` ``{agent_id, metadata}`` → ``access_token``, ``GET /v2/get-call/{call_id}``;
call fields ``call_id``, ``call_status`` (registered | not_connected | ongoing | ended | error),
``start_timestamp``/``end_timestamp``/``duration_ms`` (ms), ``call_cost.combined_cost`` (cents),
``disconnection_reason``, ``recording_url``, ``public_log_url``; webhooks ``{"event": "call_started" |
"call_ended" | "call_analyzed", "call": {...}}``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from providers.agent_calls import ENDED, FAILED, IN_PROGRESS, QUEUED, CallEvent, CallSpec, CallState, usd

STATUSES = {"registered": QUEUED, "ongoing": IN_PROGRESS, "ended": ENDED, "not_connected": FAILED, "error": FAILED}
EVENTS = frozenset({"call_started", "call_ended", "call_analyzed"})


def create_body(spec: CallSpec) -> dict[str, Any]:
    body: dict[str, Any]
    if spec.type == "web":
        body = {"agent_id": spec.target["agentId"]}
    else:
        body = {"from_number": spec.target["fromNumber"], "to_number": spec.to,
                "override_agent_id": spec.target["agentId"]}  # fmt: skip
    if spec.metadata:
        body["metadata"] = dict(spec.metadata)
    return body


def create_path(spec: CallSpec) -> str:
    return "/v2/create-web-call" if spec.type == "web" else "/v2/create-phone-call"


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def call_state(call: dict[str, Any], base_url: str = "") -> CallState:
    cost = call.get("call_cost") if isinstance(call.get("call_cost"), dict) else {}
    cents = usd(cost.get("combined_cost"))
    duration_ms = _int(call.get("duration_ms"))
    started, ended = _int(call.get("start_timestamp")), _int(call.get("end_timestamp"))
    duration: float | None = None
    if duration_ms is not None:
        duration = duration_ms / 1000
    elif cost.get("total_duration_seconds") is not None:
        duration = float(cost["total_duration_seconds"])
    elif started is not None and ended is not None:
        duration = max(0.0, (ended - started) / 1000)
    call_id = str(call.get("call_id") or "")
    state = CallState(
        vendor_call_id=call_id,
        status=STATUSES.get(str(call.get("call_status") or ""), QUEUED),
        started_at_ms=started,
        ended_at_ms=ended,
        duration_seconds=duration,
        cost_usd=None if cents is None else cents / Decimal(100),
        ended_reason=call.get("disconnection_reason"),
        transcript_url=call.get("public_log_url") or (f"{base_url}/v2/get-call/{call_id}" if base_url else None),
        recording_url=call.get("recording_url"),
    )
    if call.get("access_token"):
        state.join = {"accessToken": call["access_token"], "callId": call_id}
    return state


def event_call_id(body: Any) -> str | None:
    call = body.get("call") if isinstance(body, dict) else None
    return str(call["call_id"]) if isinstance(call, dict) and call.get("call_id") else None


def parse_event(body: Any) -> CallEvent | None:
    if not isinstance(body, dict) or body.get("event") not in EVENTS or not isinstance(body.get("call"), dict):
        return None
    return CallEvent(event=str(body["event"]), state=call_state(body["call"]))

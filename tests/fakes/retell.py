"""A fake Retell API: ``POST /v2/create-phone-call``, ``POST /v2/create-web-call``, ``GET /v2/get-call/{call_id}``,
``GET /list-agents``, plus the webhooks Retell sends.

Speaks docs/agent-calls.md: Bearer auth (key ``test-retell-key``), errors ``{"status": "error", "message"}``, call
objects with ``call_status`` registered → ongoing → ended (or not_connected / error), ms timestamps,
``duration_ms``, ``call_cost.combined_cost`` in cents; webhooks ``{"event": "call_started" | "call_ended" |
"call_analyzed", "call"}`` signed ``x-retell-signature: v=<ms>,d=<hex HMAC-SHA256(api key, body + ms)>`` — the
scheme of the official SDKs. Faults come from the shared harness.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.harness import FakeState
from tests.fakes.webhook_sender import Delivery, deliver

API_KEY = "test-retell-key"
AGENTS = {"agent_support"}
FROM_NUMBERS = {"+14155550100"}


def error(status: int, message: str, retry_after: str | None = None) -> JSONResponse:
    headers = {"Retry-After": retry_after} if retry_after else {}
    return JSONResponse({"status": "error", "message": message}, status, headers=headers)


def calls_of(state: FakeState) -> dict[str, dict[str, Any]]:
    return state.options.setdefault("calls", {})  # type: ignore[no-any-return]


async def _admit(state: FakeState, request: Request) -> Response | None:
    await state.record(request)
    fault = await state.before_response()
    if fault is not None and fault.kind == "status":
        return error(fault.status, "injected", fault.retry_after)
    if request.headers.get("authorization") != f"Bearer {API_KEY}":
        return error(401, "Unauthorized: API key is invalid")
    if fault is not None and fault.kind == "malformed":
        return Response(b'{"call_id": ', media_type="application/json")
    return None


def create_app(state: FakeState) -> Starlette:
    async def create(request: Request) -> Response:
        if (rejected := await _admit(state, request)) is not None:
            return rejected
        body = json.loads(state.requests[-1].body or b"{}")
        web = request.url.path.endswith("create-web-call")
        agent_id = body.get("agent_id") if web else body.get("override_agent_id")
        if agent_id not in AGENTS:
            return error(404, "Agent not found")
        if not web and (body.get("from_number") not in FROM_NUMBERS or not body.get("to_number")):
            return error(400, "from_number is not a number you own, or to_number is missing")
        call_id = uuid.uuid4().hex
        call: dict[str, Any] = {
            "call_type": "web_call" if web else "phone_call", "call_id": call_id, "agent_id": agent_id,
            "agent_version": 1, "call_status": "registered", "metadata": body.get("metadata") or {},
        }  # fmt: skip
        if web:
            call["access_token"] = "eyJhbGciOiJIUzI1NiJ9.fake." + uuid.uuid4().hex
        else:
            call.update(from_number=body["from_number"], to_number=body["to_number"], direction="outbound")
        calls_of(state)[call_id] = {k: v for k, v in call.items() if k != "access_token"}
        return JSONResponse(call, 201)

    async def get_call(request: Request) -> Response:
        if (rejected := await _admit(state, request)) is not None:
            return rejected
        call = calls_of(state).get(request.path_params["call_id"])
        return JSONResponse(call) if call else error(404, "Call not found")

    async def agents(request: Request) -> Response:
        if (rejected := await _admit(state, request)) is not None:
            return rejected
        return JSONResponse([{"agent_id": a, "agent_name": a} for a in sorted(AGENTS)])

    return Starlette(routes=[
        Route("/v2/create-phone-call", create, methods=["POST"]),
        Route("/v2/create-web-call", create, methods=["POST"]),
        Route("/v2/get-call/{call_id}", get_call, methods=["GET"]),
        Route("/list-agents", agents, methods=["GET"]),
    ])  # fmt: skip


# -- the calls moving on, and the webhooks Retell sends about them -----------------------------------------------------
def start(state: FakeState, call_id: str) -> dict[str, Any]:
    call = calls_of(state)[call_id]
    call.update(call_status="ongoing", start_timestamp=int(time.time() * 1000))
    return call


def finish(state: FakeState, call_id: str, *, seconds: float, cost_cents: float) -> dict[str, Any]:
    call = calls_of(state)[call_id]
    end = int(time.time() * 1000)
    call.update(
        call_status="ended", start_timestamp=end - int(seconds * 1000), end_timestamp=end,
        duration_ms=int(seconds * 1000), disconnection_reason="user_hangup",
        recording_url=f"https://fake.retellai.com/recording/{call_id}.wav",
        public_log_url=f"https://fake.retellai.com/log/{call_id}.txt",
        transcript="Agent: Hello.\nUser: Bye.\n",
        call_cost={"product_costs": [{"product": "retell_platform", "unit_price": round(cost_cents / seconds, 6),
                                      "cost": cost_cents}],
                   "total_duration_seconds": seconds, "total_duration_unit_price": round(cost_cents / seconds, 6),
                   "combined_cost": cost_cents},
    )  # fmt: skip
    return call


def sign(raw: bytes, api_key: str, timestamp_ms: int | None = None) -> str:
    stamp = int(time.time() * 1000) if timestamp_ms is None else timestamp_ms
    return f"v={stamp},d={hmac.new(api_key.encode(), raw + str(stamp).encode(), hashlib.sha256).hexdigest()}"


async def send(
    client: httpx.AsyncClient, event: str, call: dict[str, Any], *, api_key: str = API_KEY,
    path: str = "/webhooks/retell", retries: int = 3, duplicates: int = 0, signature: str | None = None,
) -> Delivery:  # fmt: skip
    raw = json.dumps({"event": event, "call": call}).encode()
    headers = {"x-retell-signature": signature if signature is not None else sign(raw, api_key)}
    return await deliver(client, path, raw, headers, retries=retries, duplicates=duplicates)

"""A fake Vapi API: ``POST /call`` (phone), ``POST /call/web``, ``GET /call/{id}``, ``GET /assistant`` and each live
call's control URL (``POST /control/{id}`` ``{"type": "end-call"}``), plus the server messages Vapi sends.

Speaks docs/agent-calls.md: Bearer auth (key ``test-vapi-key``), NestJS-shaped errors ``{"message", "error",
"statusCode"}``, Call objects with ``status`` queued → ringing → in-progress → ended, ISO-8601 ``startedAt``/
``endedAt``, ``cost`` in USD, ``monitor.controlUrl``; ``status-update`` and ``end-of-call-report`` messages
authenticated with the ``X-Vapi-Secret`` header (``WEBHOOK_SECRET``). Faults come from the shared harness.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.harness import FakeState
from tests.fakes.webhook_sender import Delivery, deliver

API_KEY = "test-vapi-key"
WEBHOOK_SECRET = "test-vapi-webhook-secret"
ASSISTANTS = {"asst_support"}
PHONE_NUMBERS = {"pn_main"}
REASONS = {400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 429: "Too Many Requests",
           500: "Internal Server Error", 503: "Service Unavailable"}  # fmt: skip


def error(status: int, message: str, retry_after: str | None = None) -> JSONResponse:
    headers = {"Retry-After": retry_after} if retry_after else {}
    body = {"message": message, "error": REASONS.get(status, "Error"), "statusCode": status}
    return JSONResponse(body, status, headers=headers)


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def calls_of(state: FakeState) -> dict[str, dict[str, Any]]:
    return state.options.setdefault("calls", {})  # type: ignore[no-any-return]


async def _admit(state: FakeState, request: Request) -> Response | None:
    await state.record(request)
    fault = await state.before_response()
    if fault is not None and fault.kind == "status":
        return error(fault.status, "injected", fault.retry_after)
    if request.headers.get("authorization") != f"Bearer {API_KEY}":
        return error(
            401, "Invalid Key. Hot tip, you may be using the private key instead of the public key, or vice versa."
        )
    if fault is not None and fault.kind == "malformed":
        return Response(b'{"id": ', media_type="application/json")
    return None


def create_app(state: FakeState) -> Starlette:
    async def create(request: Request) -> Response:
        if (rejected := await _admit(state, request)) is not None:
            return rejected
        body = json.loads(state.requests[-1].body or b"{}")
        web = request.url.path.endswith("/web")
        if body.get("assistantId") not in ASSISTANTS:
            return error(400, "Couldn't Get Assistant. `assistantId` Does Not Exist.")
        if not web and (
            body.get("phoneNumberId") not in PHONE_NUMBERS or not (body.get("customer") or {}).get("number")
        ):
            return error(400, "customer.number must be a valid phone number in the E.164 format")
        call_id = str(uuid.uuid4())
        now = datetime.now(UTC)
        call: dict[str, Any] = {
            "id": call_id, "orgId": "org_fake", "type": "webCall" if web else "outboundPhoneCall",
            "status": "queued", "assistantId": body["assistantId"], "createdAt": iso(now), "updatedAt": iso(now),
            "monitor": {"listenUrl": f"ws://127.0.0.1/listen/{call_id}",
                        "controlUrl": f"{request.base_url}control/{call_id}".replace("//control", "/control")},
        }  # fmt: skip
        if not web:
            call["phoneNumberId"] = body["phoneNumberId"]
            call["customer"] = body["customer"]
        else:
            call["webCallUrl"] = f"https://fake.daily.co/{call_id[:8]}"
        calls_of(state)[call_id] = call
        return JSONResponse(call, 201)

    async def get_call(request: Request) -> Response:
        if (rejected := await _admit(state, request)) is not None:
            return rejected
        call = calls_of(state).get(request.path_params["call_id"])
        return JSONResponse(call) if call else error(404, "Call not found")

    async def control(request: Request) -> Response:
        await state.record(request)
        call = calls_of(state).get(request.path_params["call_id"])
        if call is None or call["status"] == "ended":
            return error(404, "Call not found or not live")
        if json.loads(state.requests[-1].body or b"{}").get("type") != "end-call":
            return error(400, "unknown control message")
        call["endRequested"] = True
        return JSONResponse({"ok": True})

    async def assistants(request: Request) -> Response:
        if (rejected := await _admit(state, request)) is not None:
            return rejected
        return JSONResponse([{"id": a, "name": a} for a in sorted(ASSISTANTS)])

    return Starlette(routes=[
        Route("/call", create, methods=["POST"]),
        Route("/call/web", create, methods=["POST"]),
        Route("/call/{call_id}", get_call, methods=["GET"]),
        Route("/control/{call_id}", control, methods=["POST"]),
        Route("/assistant", assistants, methods=["GET"]),
    ])  # fmt: skip


# -- the calls moving on, and the server messages Vapi sends about them ------------------------------------------------
def advance(state: FakeState, call_id: str, status: str) -> dict[str, Any]:
    call = calls_of(state)[call_id]
    call["status"] = status
    if status == "in-progress" and "startedAt" not in call:
        call["startedAt"] = iso(datetime.now(UTC))
    return call


def finish(
    state: FakeState, call_id: str, *, seconds: float, cost: float, reason: str = "customer-ended-call"
) -> dict[str, Any]:
    call = calls_of(state)[call_id]
    started = datetime.now(UTC) - timedelta(seconds=seconds)
    call.update(status="ended", startedAt=iso(started), endedAt=iso(started + timedelta(seconds=seconds)), cost=cost,
                endedReason=reason, artifact={"recordingUrl": f"https://storage.fake.vapi.ai/{call_id}.wav",
                                              "transcript": "AI: Hello.\nUser: Bye."})  # fmt: skip
    return call


def status_update(call: dict[str, Any]) -> dict[str, Any]:
    return {"message": {"type": "status-update", "status": call["status"], "call": call,
                        "timestamp": iso(datetime.now(UTC))}}  # fmt: skip


def end_of_call_report(call: dict[str, Any]) -> dict[str, Any]:
    return {"message": {
        "type": "end-of-call-report", "endedReason": call["endedReason"], "cost": call["cost"],
        "startedAt": call["startedAt"], "endedAt": call["endedAt"], "artifact": call["artifact"],
        "call": {k: v for k, v in call.items() if k not in ("cost", "endedAt", "artifact")},
        "timestamp": iso(datetime.now(UTC)),
    }}  # fmt: skip


async def send(
    client: httpx.AsyncClient, message: dict[str, Any], *, secret: str = WEBHOOK_SECRET, path: str = "/webhooks/vapi",
    auth: str = "secret", retries: int = 0, duplicates: int = 0,
) -> Delivery:  # fmt: skip
    """A server message as Vapi posts it: sent once (Vapi does not retry the end-of-call report), authenticated the
    way the server's credential says — ``secret``: the secret in ``X-Vapi-Secret``; ``signature``: in
    ``X-Vapi-Signature`` (the current "secret token" docs); ``hmac``: ``x-signature`` = hex HMAC-SHA256 of
    ``"{x-timestamp}.{body}"`` with ``x-timestamp`` in milliseconds (HMACAuthenticationPlan's defaults). Signed
    here from the docs, not with the gateway's code."""
    raw = json.dumps(message).encode()
    if auth == "secret":
        headers = {"x-vapi-secret": secret}
    elif auth == "signature":
        headers = {"x-vapi-signature": secret}
    else:
        stamp = str(int(datetime.now(UTC).timestamp() * 1000))
        digest = hmac.new(secret.encode(), f"{stamp}.".encode() + raw, hashlib.sha256).hexdigest()
        headers = {"x-timestamp": stamp, "x-signature": digest}
    return await deliver(client, path, raw, headers, retries=retries, duplicates=duplicates)

"""/voice/calls (voice-agent calls with failover), the agents behind them (admin), and the vendors' webhooks.

Routers parse and render; ``gateway.calls.service`` does the work and the vendor adapters own the wire formats.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, StrictStr

from gateway.api.deps import Caller, admin_caller, caller, json_body, read_body, require_found, workspace_caller
from gateway.calls.service import agent_provider, call_service, view
from gateway.errors import InvalidRequest, NotFound, Unauthorized
from gateway.ports import MAX_BOUND_INTEGER

log = logging.getLogger("gateway.calls")

MAX_WEBHOOK_BYTES = 1024 * 1024
RECONCILE_SECONDS_DEFAULT = 60.0


@asynccontextmanager
async def reconcile_periodically(app: FastAPI) -> AsyncIterator[None]:
    """The local runtime's periodic task (the Worker runs the same pass from its cron ``scheduled``): fetch calls
    whose end webhook never came. ``CALL_RECONCILE_SECONDS=0`` turns it off."""
    gateway = app.state.gateway
    try:
        every = float(gateway.runtime.env.get("CALL_RECONCILE_SECONDS", RECONCILE_SECONDS_DEFAULT))
    except ValueError:
        every = RECONCILE_SECONDS_DEFAULT
    stop = asyncio.Event()

    async def loop() -> None:
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), every)
            except TimeoutError:
                pass
            if stop.is_set():
                return
            try:
                await call_service(gateway).reconcile()
            except Exception:
                log.warning("call reconciliation pass failed", exc_info=True)

    task = asyncio.ensure_future(loop()) if every > 0 else None
    try:
        yield
    finally:
        stop.set()
        if task is not None:
            await asyncio.gather(task, return_exceptions=True)


router = APIRouter(tags=["calls"], lifespan=reconcile_periodically)


# -- agents ------------------------------------------------------------------------------------------------------------
class PutAgent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    vendors: dict[StrictStr, dict[StrictStr, StrictStr]] = Field(min_length=1, max_length=10)


def _check_vendors(vendors: dict[str, dict[str, str]]) -> None:
    for vendor, target in vendors.items():
        provider = agent_provider(vendor)
        if provider is None:
            raise InvalidRequest(f"{vendor!r} is not a voice-agent vendor", status=422)
        known = {key for keys in provider.required_target.values() for key in keys}
        unknown = set(target) - known
        if unknown or not any(all(target.get(k) for k in keys) for keys in provider.required_target.values()):
            raise InvalidRequest(
                f"{vendor}: give {' or '.join('+'.join(keys) for keys in provider.required_target.values())}"
                + (f" (unknown: {', '.join(sorted(unknown))})" if unknown else ""), status=422,
            )  # fmt: skip


async def _workspace(found: Caller, workspace_id: str) -> None:
    require_found(await found.gateway.workspace(workspace_id), "workspace")


@router.put("/admin/workspaces/{workspace_id}/agents/{name}", summary="Create or replace a logical agent")
async def put_agent(
    workspace_id: str, name: str, request: Request, found: Caller = Depends(admin_caller)
) -> dict[str, Any]:
    if not 1 <= len(name) <= 100:
        raise InvalidRequest("agent names are 1 to 100 characters")
    await _workspace(found, workspace_id)
    body = await json_body(request, PutAgent)
    _check_vendors(body.vendors)
    service = call_service(found.gateway)
    agent = await service.agents.put(workspace_id, name, body.vendors, service.now_ms())
    return agent.to_json()


@router.get("/admin/workspaces/{workspace_id}/agents", summary="A workspace's agents (admin)")
async def list_agents_admin(workspace_id: str, found: Caller = Depends(admin_caller)) -> dict[str, Any]:
    await _workspace(found, workspace_id)
    agents = await call_service(found.gateway).agents.list(workspace_id)
    return {"agents": [a.to_json() for a in agents]}


@router.delete("/admin/workspaces/{workspace_id}/agents/{name}", status_code=204, summary="Remove an agent")
async def delete_agent(workspace_id: str, name: str, found: Caller = Depends(admin_caller)) -> Response:
    if not await call_service(found.gateway).agents.delete(workspace_id, name):
        raise NotFound("agent not found")
    return Response(status_code=204)


@router.get("/voice/agents", summary="This workspace's agents")
async def list_agents(found: Caller = Depends(caller)) -> dict[str, Any]:
    if found.workspace is None:
        raise InvalidRequest("this endpoint needs a workspace API key")
    agents = await call_service(found.gateway).agents.list(found.workspace.id)
    return {"agents": [a.to_json() for a in agents]}


# -- calls -------------------------------------------------------------------------------------------------------------
class CreateCall(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agent: StrictStr = Field(min_length=1, max_length=100)
    type: Literal["web", "phone"]
    to: StrictStr | None = Field(default=None, max_length=20)
    metadata: dict[StrictStr, Any] = Field(default_factory=dict, max_length=50)
    provider: StrictStr | None = Field(default=None, max_length=50)


@router.post("/voice/calls", status_code=201, summary="Start a voice-agent call, with failover across vendors")
async def create_call(request: Request) -> JSONResponse:
    found = await workspace_caller(request)  # a plain call: no dependency solving per request
    body = await json_body(request, CreateCall)
    if len(json.dumps(body.metadata)) > 8192:
        raise InvalidRequest("metadata is limited to 8 KB of JSON", status=422)
    created = await call_service(found.gateway).create(
        found, agent_name=body.agent, type_=body.type, to=body.to, metadata=body.metadata, pinned=body.provider
    )
    payload = view(created.row)
    if created.state.join is not None:
        payload["join"] = created.state.join
    return JSONResponse(
        payload, status_code=201, headers={"X-Provider": created.provider, "X-Attempts": str(created.attempts)}
    )


FILTERS = {"status": "status", "agent": "agent", "provider": "provider", "type": "type"}


@router.get("/voice/calls", summary="This workspace's calls, newest first")
async def list_calls(
    request: Request,
    found: Caller = Depends(workspace_caller),
    limit: int = Query(default=50, ge=1, le=200),
    before: int | None = Query(
        default=None, ge=0, le=MAX_BOUND_INTEGER, description="createdAt cursor: calls created before this"
    ),
) -> dict[str, Any]:
    filters = {column: request.query_params[name] for name, column in FILTERS.items() if request.query_params.get(name)}
    rows = await call_service(found.gateway).calls.list(found.workspace_id, filters, before, limit)
    return {"calls": [view(r) for r in rows], "next": rows[-1]["created_at"] if len(rows) == limit else None}


@router.get("/voice/calls/{call_id}", summary="One call")
async def get_call(call_id: str, found: Caller = Depends(workspace_caller)) -> dict[str, Any]:
    service = call_service(found.gateway)
    row = require_found(await service.calls.get(found.workspace_id, call_id), "call")
    out = view(row)
    usage = await found.gateway.runtime.db.first(
        "SELECT final_cost_micros, minutes FROM usage_records WHERE request_id = ? AND segment = 0", call_id
    )
    if usage is not None:
        out["cost"] = round(int(usage["final_cost_micros"]) / 1_000_000, 6)
        out["minutes"] = usage["minutes"]
    return out


@router.delete("/voice/calls/{call_id}", status_code=202, summary="End a live call (where the vendor supports it)")
async def end_call(call_id: str, found: Caller = Depends(workspace_caller)) -> JSONResponse:
    service = call_service(found.gateway)
    row = require_found(await service.calls.get(found.workspace_id, call_id), "call")
    await service.end(row)
    return JSONResponse({**view(row), "ending": True}, status_code=202)


# -- webhooks ----------------------------------------------------------------------------------------------------------
@router.post("/webhooks/{vendor}", summary="Vendor call events (Vapi server messages, Retell webhooks)")
async def webhook(vendor: str, request: Request) -> dict[str, Any]:
    """Authenticated by the vendor's signature or secret before anything is read into state; anything else is 401
    and changes nothing. Events about calls the gateway did not place are acknowledged and ignored."""
    gateway = request.app.state.gateway
    provider = agent_provider(vendor)
    if provider is None:
        raise NotFound("no such webhook")
    raw = await read_body(request, MAX_WEBHOOK_BYTES)
    try:
        body: Any = json.loads(raw) if raw else None
    except (ValueError, UnicodeDecodeError):
        body = None
    service = call_service(gateway)
    vendor_call_id = provider.webhook_call_id(body)
    row = await service.calls.by_vendor_id(provider.id, vendor_call_id) if vendor_call_id else None
    credentials = await service.credentials_for(row["workspace_id"] if row else None, provider)
    headers = {k.lower(): v for k, v in request.headers.items()}
    if credentials is None or not provider.verify_webhook(credentials, headers, raw, service.now_ms()):
        raise Unauthorized("webhook signature or secret is missing or wrong")
    event = provider.parse_webhook(body)
    if event is None or row is None:
        return {"received": True, "applied": False}
    applied = await service.apply(row, event.state)
    return {"received": True, "applied": applied}

"""Admin API (admin token): workspaces, keys, vendor configuration, strategies, usage and the failover log.
A workspace key may read its own usage at ``GET /usage``."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr

from gateway.api.deps import Caller, admin_caller, caller, json_body, require_found, workspace_caller
from gateway.auth import generate_key
from gateway.errors import Forbidden, InvalidRequest
from gateway.routing.directory import PLATFORM_KEY_PREFIX
from gateway.routing.select import require_known_provider
from gateway.routing.strategies import STRATEGIES
from gateway.services import Gateway
from gateway.speech_cache.report import cache_report
from gateway.store.failovers import list_failovers
from gateway.store.usage import period_bounds, period_of

router = APIRouter(tags=["admin"])


class Limits(BaseModel):
    model_config = ConfigDict(extra="forbid")

    requestsPerMinute: int | None = Field(default=None, ge=1, le=1_000_000)
    requestsPerHour: int | None = Field(default=None, ge=1, le=100_000_000)
    concurrentStreams: int | None = Field(default=None, ge=1, le=100_000)
    concurrentCalls: int | None = Field(default=None, ge=1, le=100_000)  # live voice-agent calls (/voice/calls)
    monthlyBudgetUsd: float | None = Field(default=None, ge=0, le=10_000_000)
    audioMinutesPerMonth: float | None = Field(default=None, ge=0, le=100_000_000)


class CreateWorkspace(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: StrictStr = Field(min_length=1, max_length=200)
    markupPercentage: float | None = Field(default=None, ge=0, le=1000)
    limits: Limits = Field(default_factory=Limits)


class UpdateWorkspace(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: StrictStr | None = Field(default=None, min_length=1, max_length=200)
    markupPercentage: float | None = Field(default=None, ge=0, le=1000)
    limits: Limits | None = None
    status: Literal["active", "suspended"] | None = None


class CreateKey(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: StrictStr | None = Field(default=None, max_length=200)


class WorkspaceProvider(BaseModel):
    model_config = ConfigDict(extra="ignore")

    enabled: StrictBool = True
    apiKey: StrictStr | None = Field(default=None, min_length=1, max_length=4096)
    usePlatformKey: StrictBool = True
    config: dict[str, Any] = Field(default_factory=dict)


class PlatformProvider(BaseModel):
    model_config = ConfigDict(extra="ignore")

    enabled: StrictBool = True
    priority: int | None = Field(default=None, ge=0, le=10_000)
    apiKey: StrictStr | None = Field(default=None, min_length=1, max_length=4096)
    config: dict[str, Any] = Field(default_factory=dict)


class Strategy(BaseModel):
    model_config = ConfigDict(extra="ignore")

    strategy: Literal["cost", "latency", "priority", "weighted", "round_robin"]
    config: dict[str, Any] = Field(default_factory=dict)


async def _seal(found: Caller, api_key: str) -> str:
    if found.gateway.box is None:
        raise InvalidRequest("vendor keys cannot be stored: the KEY_ENCRYPTION_KEY secret is not configured")
    return await found.gateway.box.seal(api_key)


# -- workspaces -------------------------------------------------------------------------------------------------
@router.post("/admin/workspaces", status_code=201)
async def create_workspace(request: Request, found: Caller = Depends(admin_caller)) -> dict[str, Any]:
    body = await json_body(request, CreateWorkspace)
    workspace = await found.gateway.workspaces.create(
        body.name, body.markupPercentage, body.limits.model_dump(exclude_none=True)
    )
    return workspace.to_json()


@router.get("/admin/workspaces")
async def list_workspaces(found: Caller = Depends(admin_caller)) -> dict[str, Any]:
    return {"workspaces": [w.to_json() for w in await found.gateway.workspaces.list()]}


@router.get("/admin/workspaces/{workspace_id}")
async def get_workspace(workspace_id: str, found: Caller = Depends(admin_caller)) -> dict[str, Any]:
    workspace = require_found(await found.gateway.workspaces.get(workspace_id), "workspace")
    return {**workspace.to_json(), "keys": await found.gateway.workspaces.list_keys(workspace_id)}


@router.patch("/admin/workspaces/{workspace_id}")
async def update_workspace(
    workspace_id: str, request: Request, found: Caller = Depends(admin_caller)
) -> dict[str, Any]:
    body = await json_body(request, UpdateWorkspace)
    changes: dict[str, Any] = {}
    if body.name is not None:
        changes["name"] = body.name
    if "markupPercentage" in body.model_fields_set:
        changes["markup_percentage"] = body.markupPercentage
    if body.limits is not None:
        changes["limits"] = {k: getattr(body.limits, k) for k in body.limits.model_fields_set}
    if body.status is not None:
        changes["status"] = body.status
    workspace = require_found(await found.gateway.workspaces.update(workspace_id, changes), "workspace")
    found.gateway.forget_workspace(workspace_id)
    return workspace.to_json()


# -- keys -------------------------------------------------------------------------------------------------------
@router.post("/admin/workspaces/{workspace_id}/keys", status_code=201)
async def create_key(workspace_id: str, request: Request, found: Caller = Depends(admin_caller)) -> dict[str, Any]:
    require_found(await found.gateway.workspaces.get(workspace_id), "workspace")
    name = None
    if request.headers.get("content-length") not in (None, "0"):
        name = (await json_body(request, CreateKey)).name
    key, prefix, key_hash = generate_key()
    key_id = await found.gateway.workspaces.add_key(workspace_id, prefix, key_hash, name)
    return {"id": key_id, "key": key, "prefix": prefix, "workspaceId": workspace_id, "name": name}


@router.delete("/admin/workspaces/{workspace_id}/keys/{key_id}", status_code=204)
async def revoke_key(workspace_id: str, key_id: str, found: Caller = Depends(admin_caller)) -> Response:
    key_hash = require_found(await found.gateway.workspaces.revoke_key(workspace_id, key_id), "key")
    found.gateway.auth.forget(key_hash)
    return Response(status_code=204)


# -- vendors and routing ------------------------------------------------------------------------------------------
@router.put("/admin/workspaces/{workspace_id}/providers/{provider}")
async def put_workspace_provider(
    workspace_id: str, provider: str, request: Request, found: Caller = Depends(admin_caller)
) -> dict[str, Any]:
    require_known_provider(provider)
    require_found(await found.gateway.workspaces.get(workspace_id), "workspace")
    body = await json_body(request, WorkspaceProvider)
    sealed = await _seal(found, body.apiKey) if body.apiKey else None
    await found.gateway.provider_configs.put_workspace(
        workspace_id,
        provider,
        body.enabled,
        sealed,
        keep_key=body.apiKey is None and "apiKey" not in body.model_fields_set,
        use_platform_key=body.usePlatformKey,
        config=body.config,
    )
    found.gateway.forget_workspace(workspace_id)
    return {
        "workspaceId": workspace_id,
        "provider": provider,
        "enabled": body.enabled,
        "usePlatformKey": body.usePlatformKey,
        "apiKeyUpdated": sealed is not None,
        "config": body.config,
    }


@router.put("/admin/workspaces/{workspace_id}/strategy")
async def put_strategy(workspace_id: str, request: Request, found: Caller = Depends(admin_caller)) -> dict[str, Any]:
    require_found(await found.gateway.workspaces.get(workspace_id), "workspace")
    body = await json_body(request, Strategy)
    assert body.strategy in STRATEGIES
    await found.gateway.provider_configs.put_strategy(workspace_id, body.strategy, body.config)
    found.gateway.forget_workspace(workspace_id)
    return {"workspaceId": workspace_id, "strategy": body.strategy, "config": body.config}


@router.put("/admin/platform/providers/{provider}")
async def put_platform_provider(
    provider: str, request: Request, found: Caller = Depends(admin_caller)
) -> dict[str, Any]:
    require_known_provider(provider)
    body = await json_body(request, PlatformProvider)
    if body.apiKey:
        await found.gateway.runtime.kv.put(PLATFORM_KEY_PREFIX + provider, await _seal(found, body.apiKey))
    elif "apiKey" in body.model_fields_set:  # an explicit null removes the platform key
        await found.gateway.runtime.kv.delete(PLATFORM_KEY_PREFIX + provider)
    await found.gateway.provider_configs.put_platform(
        provider, body.enabled, body.priority, None, keep_key=True, config=body.config
    )
    found.gateway.directory.invalidate()
    return {"provider": provider, "enabled": body.enabled, "priority": body.priority, "config": body.config}


# -- usage and failovers --------------------------------------------------------------------------------------------
def _period(value: str | None, now_ms: int) -> str:
    period = value or period_of(now_ms)
    try:
        period_bounds(period)
    except ValueError:
        raise InvalidRequest("period must be YYYY-MM") from None
    return period


@router.get("/admin/usage")
async def admin_usage(
    workspaceId: str, period: str | None = None, found: Caller = Depends(admin_caller)
) -> dict[str, Any]:
    gateway = found.gateway
    require_found(await gateway.workspaces.get(workspaceId), "workspace")
    return await _usage_report(gateway, workspaceId, period)


@router.get("/usage")
async def own_usage(
    period: str | None = None, workspaceId: str | None = None, found: Caller = Depends(workspace_caller)
) -> dict[str, Any]:
    if workspaceId is not None and workspaceId != found.workspace_id:
        raise Forbidden("a workspace key can only read its own usage")
    return await _usage_report(found.gateway, found.workspace_id, period)


async def _usage_report(gateway: Gateway, workspace_id: str, period: str | None) -> dict[str, Any]:
    """A period's usage report with its speech-cache section, after writing what is pending."""
    await gateway.recorder.flush()
    chosen = _period(period, int(gateway.runtime.clock.time() * 1000))
    report = await gateway.usage.report(workspace_id, chosen)
    return {**report, "cache": await cache_report(gateway.runtime.db, gateway.speech_cache, workspace_id, chosen)}


@router.get("/admin/failovers")
async def failovers(workspaceId: str | None = None, limit: int = 50, found: Caller = Depends(caller)) -> JSONResponse:
    if not found.principal.is_admin:
        raise Forbidden("this endpoint needs the admin token")
    if not 1 <= limit <= 1000:
        raise InvalidRequest("limit must be between 1 and 1000")
    await found.gateway.recorder.flush()
    rows = await list_failovers(found.gateway.runtime.db, workspaceId, limit)
    return JSONResponse({"failovers": rows})


class PlatformSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pricingMarkupPercentage: float | None = Field(default=None, ge=0, le=1000)
    builtinFallbackEnabled: StrictBool | None = None


@router.put("/admin/platform/settings")
async def put_platform_settings(request: Request, found: Caller = Depends(admin_caller)) -> dict[str, Any]:
    body = await json_body(request, PlatformSettings)
    values = {
        "pricing_markup_percentage": None
        if body.pricingMarkupPercentage is None
        else str(body.pricingMarkupPercentage),
        "builtin_fallback_enabled": None
        if body.builtinFallbackEnabled is None
        else str(body.builtinFallbackEnabled).lower(),
    }
    await found.gateway.provider_configs.put_settings({k: v for k, v in values.items() if v is not None})
    found.gateway.directory.invalidate()
    return await found.gateway.provider_configs.settings()

"""Admin API of the speech cache: a workspace's cache policy, and purging its entries."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr

from gateway.api.deps import Caller, admin_caller, json_body, require_found
from gateway.errors import InvalidRequest
from gateway.speech_cache.key import SHARED_SCOPE
from gateway.speech_cache.policy import MAX_TTL_SECONDS

router = APIRouter(tags=["admin"])


class CachePolicyBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: StrictBool | None = None
    ttlSeconds: int | None = Field(default=None, ge=1, le=MAX_TTL_SECONDS)
    allowShared: StrictBool | None = None
    pricePerMillionCharacters: StrictStr | float | None = None  # USD; a decimal string keeps it exact


def _price(value: str | float) -> Decimal:
    try:
        price = Decimal(str(value))
    except InvalidOperation:
        raise InvalidRequest("pricePerMillionCharacters must be a decimal number of USD") from None
    if not price.is_finite() or price < 0 or price > 1_000_000:
        raise InvalidRequest("pricePerMillionCharacters must be between 0 and 1000000")
    return price


@router.get("/admin/workspaces/{workspace_id}/cache")
async def get_cache(workspace_id: str, found: Caller = Depends(admin_caller)) -> dict[str, Any]:
    cache = found.gateway.speech_cache
    require_found(await found.gateway.workspaces.get(workspace_id), "workspace")
    stats = await cache.stats(workspace_id)
    return {**(await cache.policies.get(workspace_id)).to_json(), "storedEntries": stats.entries,
            "storedBytes": stats.bytes}  # fmt: skip


@router.put("/admin/workspaces/{workspace_id}/cache")
async def put_cache(workspace_id: str, request: Request, found: Caller = Depends(admin_caller)) -> dict[str, Any]:
    """Change the fields given; the others keep their value."""
    cache = found.gateway.speech_cache
    require_found(await found.gateway.workspaces.get(workspace_id), "workspace")
    body = await json_body(request, CachePolicyBody)
    current = await cache.policies.get(workspace_id)
    changes: dict[str, Any] = {}
    if body.enabled is not None:
        changes["enabled"] = body.enabled
    if body.ttlSeconds is not None:
        changes["ttl_seconds"] = body.ttlSeconds
    if body.allowShared is not None:
        changes["allow_shared"] = body.allowShared
    if body.pricePerMillionCharacters is not None:
        changes["price_per_million_chars"] = _price(body.pricePerMillionCharacters)
    return (await cache.set_policy(workspace_id, replace(current, **changes))).to_json()


@router.delete("/admin/workspaces/{workspace_id}/cache")
async def purge_cache(workspace_id: str, found: Caller = Depends(admin_caller)) -> dict[str, Any]:
    """Drop every entry in the workspace's own scope (shared-scope entries belong to no one workspace)."""
    require_found(await found.gateway.workspaces.get(workspace_id), "workspace")
    return {"purged": await found.gateway.speech_cache.purge(workspace_id)}


@router.delete("/admin/speech-cache/shared")
async def purge_shared(found: Caller = Depends(admin_caller)) -> dict[str, Any]:
    """Drop every entry of the shared scope (the pool of workspaces that allow it)."""
    return {"purged": await found.gateway.speech_cache.store.purge(SHARED_SCOPE)}

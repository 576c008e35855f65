"""Reads the console needs that the admin API did not have: a workspace's vendor settings (BYOK status — whether a
key is stored, never the key) and routing strategy."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from gateway.api.deps import Caller, admin_caller, require_found

router = APIRouter(tags=["admin"])


@router.get("/admin/workspaces/{workspace_id}/providers", summary="A workspace's vendor settings and strategy (admin)")
async def workspace_providers(workspace_id: str, found: Caller = Depends(admin_caller)) -> dict[str, Any]:
    gateway = found.gateway
    require_found(await gateway.workspaces.get(workspace_id), "workspace")
    configs = await gateway.provider_configs.workspace_configs(workspace_id)
    strategy = await gateway.provider_configs.strategy(workspace_id)
    return {
        "workspaceId": workspace_id,
        "providers": {
            provider: {
                "enabled": row.enabled,
                "ownKey": row.encrypted_api_key is not None,
                "usePlatformKey": row.use_platform_key,
                "config": row.config,
            }
            for provider, row in sorted(configs.items())
        },  # fmt: skip
        "strategy": {"strategy": strategy[0], "config": strategy[1]} if strategy else None,
    }

"""Provider configuration at platform and workspace level, routing strategies and platform settings."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from gateway.ports import Clock, Database


@dataclass(frozen=True)
class ProviderConfigRow:
    provider: str
    enabled: bool
    encrypted_api_key: str | None
    config: dict[str, Any] = field(default_factory=dict)
    priority: int = 100
    use_platform_key: bool = True


class ProviderConfigStore:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def _now(self) -> int:
        return int(self.clock.time() * 1000)

    async def platform_configs(self) -> dict[str, ProviderConfigRow]:
        rows = await self.db.all("SELECT * FROM platform_provider_configs")
        return {
            r["provider"]: ProviderConfigRow(
                provider=r["provider"],
                enabled=bool(r["enabled"]),
                encrypted_api_key=r["encrypted_api_key"],
                config=json.loads(r["config_json"] or "{}"),
                priority=int(r["priority"]),
            )
            for r in rows
        }

    async def workspace_configs(self, workspace_id: str) -> dict[str, ProviderConfigRow]:
        rows = await self.db.all("SELECT * FROM workspace_provider_configs WHERE workspace_id = ?", workspace_id)
        return {
            r["provider"]: ProviderConfigRow(
                provider=r["provider"],
                enabled=bool(r["enabled"]),
                encrypted_api_key=r["encrypted_api_key"],
                config=json.loads(r["config_json"] or "{}"),
                use_platform_key=bool(r["use_platform_key"]),
            )
            for r in rows
        }

    async def put_platform(
        self,
        provider: str,
        enabled: bool,
        priority: int | None,
        encrypted_api_key: str | None,
        keep_key: bool,
        config: dict[str, Any],
    ) -> None:
        await self.db.run(
            "INSERT INTO platform_provider_configs (provider, enabled, priority, encrypted_api_key, config_json,"
            " updated_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(provider) DO UPDATE SET enabled = excluded.enabled,"
            " priority = excluded.priority,"
            " encrypted_api_key = CASE WHEN ? THEN platform_provider_configs.encrypted_api_key"
            " ELSE excluded.encrypted_api_key END,"
            " config_json = excluded.config_json, updated_at = excluded.updated_at",
            provider,
            int(enabled),
            100 if priority is None else priority,
            encrypted_api_key,
            json.dumps(config),
            self._now(),
            int(keep_key),
        )

    async def put_workspace(
        self,
        workspace_id: str,
        provider: str,
        enabled: bool,
        encrypted_api_key: str | None,
        keep_key: bool,
        use_platform_key: bool,
        config: dict[str, Any],
    ) -> None:
        await self.db.run(
            "INSERT INTO workspace_provider_configs (workspace_id, provider, enabled, encrypted_api_key,"
            " use_platform_key, config_json, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT(workspace_id, provider) DO UPDATE SET enabled = excluded.enabled,"
            " encrypted_api_key = CASE WHEN ? THEN workspace_provider_configs.encrypted_api_key"
            " ELSE excluded.encrypted_api_key END,"
            " use_platform_key = excluded.use_platform_key, config_json = excluded.config_json,"
            " updated_at = excluded.updated_at",
            workspace_id,
            provider,
            int(enabled),
            encrypted_api_key,
            int(use_platform_key),
            json.dumps(config),
            self._now(),
            int(keep_key),
        )

    async def strategy(self, workspace_id: str) -> tuple[str, dict[str, Any]] | None:
        row = await self.db.first(
            "SELECT strategy, config_json FROM workspace_provider_strategies WHERE workspace_id = ?", workspace_id
        )
        return (row["strategy"], json.loads(row["config_json"] or "{}")) if row else None

    async def put_strategy(self, workspace_id: str, strategy: str, config: dict[str, Any]) -> None:
        await self.db.run(
            "INSERT INTO workspace_provider_strategies (workspace_id, strategy, config_json, updated_at)"
            " VALUES (?, ?, ?, ?) ON CONFLICT(workspace_id) DO UPDATE SET strategy = excluded.strategy,"
            " config_json = excluded.config_json, updated_at = excluded.updated_at",
            workspace_id,
            strategy,
            json.dumps(config),
            self._now(),
        )

    async def settings(self) -> dict[str, str]:
        return {r["key"]: r["value"] for r in await self.db.all("SELECT key, value FROM platform_settings")}

    async def put_settings(self, values: dict[str, str]) -> None:
        now = self._now()
        await self.db.batch(
            [
                (
                    "INSERT INTO platform_settings (key, value, updated_at) VALUES (?, ?, ?)"
                    " ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                    (key, value, now),
                )
                for key, value in values.items()
            ]
        )

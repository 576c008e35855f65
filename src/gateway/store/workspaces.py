"""Workspaces and their API keys."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from gateway.ids import new_id
from gateway.ports import Clock, Database

DEFAULT_LIMITS = {"requestsPerMinute": 60, "requestsPerHour": 1000}


@dataclass
class Workspace:
    id: str
    name: str
    markup_percentage: float | None
    limits: dict[str, Any] = field(default_factory=dict)
    status: str = "active"
    created_at: int = 0
    updated_at: int = 0

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Workspace:
        return cls(
            id=row["id"],
            name=row["name"],
            markup_percentage=row["markup_percentage"],
            limits={**DEFAULT_LIMITS, **json.loads(row["limits_json"] or "{}")},
            status=row["status"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "markupPercentage": self.markup_percentage,
            "limits": self.limits,
            "status": self.status,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
        }


@dataclass(frozen=True)
class KeyRecord:
    id: str
    workspace_id: str
    key_hash: str
    revoked_at: int | None
    workspace_status: str


class WorkspaceStore:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def _now(self) -> int:
        return int(self.clock.time() * 1000)

    async def create(self, name: str, markup_percentage: float | None, limits: dict[str, Any]) -> Workspace:
        now = self._now()
        workspace_id = new_id("ws")
        await self.db.run(
            "INSERT INTO workspaces (id, name, markup_percentage, limits_json, status, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, 'active', ?, ?)",
            workspace_id,
            name,
            markup_percentage,
            json.dumps(limits),
            now,
            now,
        )
        workspace = await self.get(workspace_id)
        assert workspace is not None
        return workspace

    async def get(self, workspace_id: str) -> Workspace | None:
        row = await self.db.first("SELECT * FROM workspaces WHERE id = ?", workspace_id)
        return Workspace.from_row(row) if row else None

    async def list(self) -> list[Workspace]:
        return [Workspace.from_row(r) for r in await self.db.all("SELECT * FROM workspaces ORDER BY created_at, id")]

    async def update(self, workspace_id: str, changes: dict[str, Any]) -> Workspace | None:
        current = await self.get(workspace_id)
        if current is None:
            return None
        name = changes.get("name", current.name)
        markup = changes["markup_percentage"] if "markup_percentage" in changes else current.markup_percentage
        stored_limits = {k: v for k, v in current.limits.items()}
        if "limits" in changes:
            stored_limits.update({k: v for k, v in changes["limits"].items()})
            stored_limits = {k: v for k, v in stored_limits.items() if v is not None}
        status = changes.get("status", current.status)
        await self.db.run(
            "UPDATE workspaces SET name = ?, markup_percentage = ?, limits_json = ?, status = ?, updated_at = ?"
            " WHERE id = ?",
            name,
            markup,
            json.dumps(stored_limits),
            status,
            self._now(),
            workspace_id,
        )
        return await self.get(workspace_id)

    # -- keys -----------------------------------------------------------------------------------------------------
    async def add_key(self, workspace_id: str, prefix: str, key_hash: str, name: str | None) -> str:
        key_id = new_id("key")
        await self.db.run(
            "INSERT INTO api_keys (id, workspace_id, name, prefix, key_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            key_id,
            workspace_id,
            name,
            prefix,
            key_hash,
            self._now(),
        )
        return key_id

    async def keys_with_prefix(self, prefix: str) -> list[KeyRecord]:
        rows = await self.db.all(
            "SELECT k.id, k.workspace_id, k.key_hash, k.revoked_at, w.status AS workspace_status"
            " FROM api_keys k JOIN workspaces w ON w.id = k.workspace_id WHERE k.prefix = ?",
            prefix,
        )
        return [KeyRecord(**row) for row in rows]

    async def revoke_key(self, workspace_id: str, key_id: str) -> str | None:
        """Revoke; returns the key's hash (so caches can drop it) or None when no such key in that workspace."""
        row = await self.db.first(
            "SELECT key_hash FROM api_keys WHERE id = ? AND workspace_id = ?", key_id, workspace_id
        )
        if row is None:
            return None
        await self.db.run("UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?", self._now(), key_id)
        return str(row["key_hash"])

    async def list_keys(self, workspace_id: str) -> list[dict[str, Any]]:
        rows = await self.db.all(
            "SELECT id, name, prefix, created_at, revoked_at FROM api_keys WHERE workspace_id = ? ORDER BY created_at",
            workspace_id,
        )
        return [
            {
                "id": r["id"],
                "name": r["name"],
                "prefix": r["prefix"],
                "createdAt": r["created_at"],
                "revokedAt": r["revoked_at"],
            }
            for r in rows
        ]

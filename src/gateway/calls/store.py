"""Agents and agent calls in D1/SQLite.

Exactly-once rules live in SQL, not in memory: the concurrent-call limit is one conditional INSERT; a call's usage
row is written in the same batch as the UPDATE that sets ``billed_at`` (guarded by ``billed_at IS NULL``) and is an
``INSERT OR IGNORE`` on ``usage_records``' ``UNIQUE(request_id, segment)`` — a retried webhook cannot bill twice.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from gateway.ports import Database, Statement
from gateway.store.usage import UsageRow, period_statements, usage_statement

ACTIVE = ("creating", "queued", "ringing", "in_progress")
FINAL = ("ended", "failed")
RANK = {"creating": 0, "queued": 1, "ringing": 2, "in_progress": 3, "ended": 4, "failed": 4}
CALL_COLUMNS = (
    "status", "started_at", "ended_at", "duration_seconds", "ended_reason", "transcript_url", "recording_url",
    "provider_cost_micros",
)  # fmt: skip


@dataclass(frozen=True)
class Agent:
    workspace_id: str
    name: str
    vendors: dict[str, dict[str, Any]]
    created_at: int
    updated_at: int

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "vendors": self.vendors, "createdAt": self.created_at, "updatedAt": self.updated_at}


def _agent(row: dict[str, Any]) -> Agent:
    return Agent(row["workspace_id"], row["name"], json.loads(row["vendors_json"] or "{}"), row["created_at"],
                 row["updated_at"])  # fmt: skip


class AgentStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def put(self, workspace_id: str, name: str, vendors: dict[str, Any], now_ms: int) -> Agent:
        await self.db.run(
            "INSERT INTO agents (workspace_id, name, vendors_json, created_at, updated_at) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (workspace_id, name) DO UPDATE SET vendors_json = excluded.vendors_json,"
            " updated_at = excluded.updated_at",
            workspace_id, name, json.dumps(vendors, sort_keys=True), now_ms, now_ms,
        )  # fmt: skip
        found = await self.get(workspace_id, name)
        assert found is not None
        return found

    async def get(self, workspace_id: str, name: str) -> Agent | None:
        row = await self.db.first("SELECT * FROM agents WHERE workspace_id = ? AND name = ?", workspace_id, name)
        return _agent(row) if row else None

    async def list(self, workspace_id: str) -> list[Agent]:
        rows = await self.db.all("SELECT * FROM agents WHERE workspace_id = ? ORDER BY name", workspace_id)
        return [_agent(r) for r in rows]

    async def delete(self, workspace_id: str, name: str) -> bool:
        result = await self.db.run("DELETE FROM agents WHERE workspace_id = ? AND name = ?", workspace_id, name)
        return result.changes > 0


class CallStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def reserve(
        self, *, call_id: str, workspace_id: str, api_key_id: str | None, request_id: str, agent: str, type_: str,
        to: str | None, metadata: dict[str, Any], now_ms: int, max_active: int | None,
    ) -> bool:  # fmt: skip
        """Insert the call as 'creating' unless the workspace already has ``max_active`` live calls (one statement,
        so two concurrent creations cannot both take the last slot)."""
        values = (call_id, workspace_id, api_key_id, request_id, agent, type_, to, json.dumps(metadata), now_ms, now_ms)
        insert = (
            "INSERT INTO agent_calls (id, workspace_id, api_key_id, request_id, agent, type, status, to_number,"
            " metadata_json, created_at, updated_at) SELECT ?, ?, ?, ?, ?, ?, 'creating', ?, ?, ?, ?"
        )
        if max_active is None:
            result = await self.db.run(insert, *values)
        else:
            marks = ", ".join("?" for _ in ACTIVE)
            result = await self.db.run(
                f"{insert} WHERE (SELECT COUNT(*) FROM agent_calls WHERE workspace_id = ? AND status IN ({marks})) < ?",
                *values, workspace_id, *ACTIVE, max_active,
            )  # fmt: skip
        return result.changes == 1

    async def attach(self, call_id: str, provider: str, vendor_call_id: str, status: str, now_ms: int) -> None:
        await self.db.run(
            "UPDATE agent_calls SET provider = ?, vendor_call_id = ?, status = ?, updated_at = ? WHERE id = ?",
            provider, vendor_call_id, status, now_ms, call_id,
        )  # fmt: skip

    async def fail_creation(self, call_id: str, reason: str, now_ms: int) -> None:
        await self.db.run(
            "UPDATE agent_calls SET status = 'failed', ended_reason = ?, ended_at = ?, updated_at = ?"
            " WHERE id = ? AND status = 'creating'",
            reason, now_ms, now_ms, call_id,
        )  # fmt: skip

    async def get(self, workspace_id: str, call_id: str) -> dict[str, Any] | None:
        return await self.db.first("SELECT * FROM agent_calls WHERE id = ? AND workspace_id = ?", call_id, workspace_id)

    async def by_vendor_id(self, provider: str, vendor_call_id: str) -> dict[str, Any] | None:
        return await self.db.first(
            "SELECT * FROM agent_calls WHERE provider = ? AND vendor_call_id = ?", provider, vendor_call_id
        )

    async def list(
        self, workspace_id: str, filters: dict[str, str], before: int | None, limit: int
    ) -> list[dict[str, Any]]:
        where, params = ["workspace_id = ?"], [workspace_id]
        for column, value in filters.items():
            where.append(f"{column} = ?")  # column names come from the router's fixed list, never from the client
            params.append(value)
        if before is not None:
            where.append("created_at < ?")
            params.append(before)
        sql = f"SELECT * FROM agent_calls WHERE {' AND '.join(where)} ORDER BY created_at DESC, id DESC LIMIT ?"
        return await self.db.all(sql, *params, limit)

    async def update_state(self, row: dict[str, Any], changes: dict[str, Any], now_ms: int) -> bool:
        """Write ``changes`` only if the row is still as read (``status`` and ``updated_at`` unchanged)."""
        sets = ", ".join(f"{column} = ?" for column in changes)
        result = await self.db.run(
            f"UPDATE agent_calls SET {sets}, updated_at = ? WHERE id = ? AND status = ? AND updated_at = ?",
            *changes.values(), now_ms, row["id"], row["status"], row["updated_at"],
        )  # fmt: skip
        return result.changes == 1

    async def bill(self, call_id: str, cost_micros: int, usage: UsageRow, now_ms: int) -> bool:
        """Mark the call billed and write its usage row, atomically; True only for the one caller that billed it."""
        statements: list[Statement] = [
            (
                (
                    "UPDATE agent_calls SET billed_at = ?, provider_cost_micros = ?, updated_at = ?"
                    " WHERE id = ? AND billed_at IS NULL"
                ),
                (now_ms, cost_micros, now_ms, call_id),
            ),
            *period_statements(usage.workspace_id, usage.billing_period, now_ms),
            usage_statement(usage),
        ]
        results = await self.db.batch(statements)
        return results[0].changes == 1

    async def needing_reconciliation(
        self, *, stale_before_ms: int, creating_before_ms: int, limit: int
    ) -> list[dict[str, Any]]:
        """Calls whose end (or cost) never arrived: live ones not heard of lately, ended ones still unbilled, and
        reservations whose creation never finished."""
        marks = ", ".join("?" for _ in ACTIVE[1:])
        return await self.db.all(
            "SELECT * FROM agent_calls WHERE billed_at IS NULL AND ("
            f" (status IN ({marks}) AND updated_at < ?)"
            " OR (status = 'ended' AND updated_at < ?)"
            " OR (status = 'creating' AND updated_at < ?)"
            ") ORDER BY updated_at LIMIT ?",
            *ACTIVE[1:], stale_before_ms, stale_before_ms, creating_before_ms, limit,
        )  # fmt: skip

"""The failover log: one row per switch from one vendor to the next."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gateway.ports import Database, Statement


@dataclass(frozen=True)
class FailoverEvent:
    request_id: str
    workspace_id: str | None
    from_provider: str
    to_provider: str | None  # None: nothing left to try
    error_class: str
    elapsed_ms: int
    result: str  # "switched" | "exhausted"
    created_at: int


def failover_statement(event: FailoverEvent) -> Statement:
    return (
        "INSERT INTO failover_logs (request_id, workspace_id, from_provider, to_provider, error_class, elapsed_ms,"
        " result, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            event.request_id,
            event.workspace_id,
            event.from_provider,
            event.to_provider,
            event.error_class,
            event.elapsed_ms,
            event.result,
            event.created_at,
        ),
    )


async def list_failovers(db: Database, workspace_id: str | None, limit: int) -> list[dict[str, Any]]:
    if workspace_id:
        rows = await db.all(
            "SELECT * FROM failover_logs WHERE workspace_id = ? ORDER BY id DESC LIMIT ?", workspace_id, limit
        )
    else:
        rows = await db.all("SELECT * FROM failover_logs ORDER BY id DESC LIMIT ?", limit)
    return [_as_json(r) for r in rows]


async def failovers_of(db: Database, request_id: str) -> list[dict[str, Any]]:
    """One request's failovers, newest first (however many other failovers came after them: indexed, 0006)."""
    rows = await db.all("SELECT * FROM failover_logs WHERE request_id = ? ORDER BY id DESC", request_id)
    return [_as_json(r) for r in rows]


def _as_json(r: Any) -> dict[str, Any]:
    return {
        "requestId": r["request_id"],
        "workspaceId": r["workspace_id"],
        "from": r["from_provider"],
        "to": r["to_provider"],
        "errorClass": r["error_class"],
        "elapsedMs": r["elapsed_ms"],
        "result": r["result"],
        "at": r["created_at"],
    }

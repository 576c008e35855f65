"""Rate-limit admissions on the local runtime (``rate_admissions``): written through the recorder with the request's
other rows (so durable before its response ends), read back once per workspace when a process starts."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.ports import Database, Statement

WINDOW_MS = 3600 * 1000  # the longest rate window (requestsPerHour)


@dataclass(frozen=True)
class Admission:
    request_id: str
    workspace_id: str
    key_id: str | None
    admitted_at: int  # epoch ms
    refunded: bool = False  # the permit was given back: the admission no longer counts


def admission_statement(row: Admission) -> Statement:
    if row.refunded:
        return "DELETE FROM rate_admissions WHERE request_id = ?", (row.request_id,)
    return (
        "INSERT OR IGNORE INTO rate_admissions (request_id, workspace_id, key_id, admitted_at) VALUES (?, ?, ?, ?)",
        (row.request_id, row.workspace_id, row.key_id, row.admitted_at),
    )


def prune_statement(now_ms: int) -> Statement:
    return "DELETE FROM rate_admissions WHERE admitted_at <= ?", (now_ms - WINDOW_MS,)


async def recent_admissions(db: Database, workspace_id: str, now_ms: int) -> list[tuple[str | None, int]]:
    """(key id, admitted at ms) of the workspace's admissions still inside the longest window."""
    rows = await db.all(
        "SELECT key_id, admitted_at FROM rate_admissions WHERE workspace_id = ? AND admitted_at > ?",
        workspace_id, now_ms - WINDOW_MS,
    )  # fmt: skip
    return [(r["key_id"], int(r["admitted_at"])) for r in rows]

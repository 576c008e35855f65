"""The request log table: one row per API request and per realtime session (never its text or audio).

Rows are written by the recorder with the usage rows (same batch, same retries). Queries page by ``id`` (the
insertion order): a cursor is the last id seen, so new rows never shift a page.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

from gateway.ports import Database, Statement

MAX_PAGE = 500
STATS_MAX_ROWS = 50_000  # percentiles over the latest this many matching requests: a bound on one stats call


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


@dataclass(frozen=True)
class RequestRow:
    request_id: str
    created_at: int  # epoch ms when the request started
    workspace_id: str | None
    api_key_id: str | None
    method: str
    route: str
    status: int
    vendor: str | None
    capability: str | None
    attempts: int
    latency_ms: int
    ttfb_ms: int | None
    characters: int | None
    audio_seconds: float | None
    input_tokens: int | None
    output_tokens: int | None
    cost_micros: int
    error_class: str | None

    def to_json(self) -> dict[str, Any]:
        return {camel: getattr(self, name) for name, camel in _NAMES}


_COLUMNS = tuple(f.name for f in fields(RequestRow))
_NAMES = tuple((name, _camel(name)) for name in _COLUMNS)
_INSERT = f"INSERT OR IGNORE INTO request_log ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' for _ in _COLUMNS)})"


def request_statement(row: RequestRow) -> Statement:
    return _INSERT, tuple(getattr(row, c) for c in _COLUMNS)


def prune_statement(before_ms: int) -> Statement:
    return "DELETE FROM request_log WHERE created_at < ?", (before_ms,)


@dataclass(frozen=True)
class LogFilter:
    workspace_id: str | None = None
    status_class: int | None = None  # 2 → 2xx, 4 → 4xx, ...
    vendor: str | None = None
    route: str | None = None
    since_ms: int | None = None
    until_ms: int | None = None
    request_id: str | None = None

    def where(self) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        for column, value in (("workspace_id", self.workspace_id), ("vendor", self.vendor), ("route", self.route),
                              ("request_id", self.request_id)):  # fmt: skip
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if self.status_class is not None:
            clauses.append("status >= ? AND status < ?")
            params += [self.status_class * 100, self.status_class * 100 + 100]
        if self.since_ms is not None:
            clauses.append("created_at >= ?")
            params.append(self.since_ms)
        if self.until_ms is not None:
            clauses.append("created_at < ?")
            params.append(self.until_ms)
        return (" AND ".join(clauses) or "1 = 1"), params


def _row_json(row: dict[str, Any]) -> dict[str, Any]:
    out = {_camel(k): v for k, v in row.items() if k != "id"}
    out["cost"] = round(int(row.get("cost_micros") or 0) / 1_000_000, 6)
    return out


async def list_requests(
    db: Database, where: LogFilter, *, cursor: int | None, limit: int
) -> tuple[list[dict[str, Any]], int | None]:
    """Newest first. Returns (rows, the cursor of the next page or None)."""
    sql, params = where.where()
    if cursor is not None:
        sql += " AND id < ?"
        params.append(cursor)
    rows = await db.all(f"SELECT * FROM request_log WHERE {sql} ORDER BY id DESC LIMIT ?", *params, limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return [_row_json(r) for r in rows], (int(rows[-1]["id"]) if more and rows else None)


def percentile(sorted_values: list[int], q: float) -> int | None:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(q * len(sorted_values) - 1e-9))
    return sorted_values[min(rank, len(sorted_values)) - 1]


_SUMS = (
    "COUNT(*) AS requests, SUM(CASE WHEN status >= 400 THEN 1 ELSE 0 END) AS errors,"
    " SUM(cost_micros) AS cost, SUM(CASE WHEN attempts > 1 THEN attempts - 1 ELSE 0 END) AS failovers"
)


def _group(row: dict[str, Any]) -> dict[str, Any]:
    requests = int(row.get("requests") or 0)
    errors = int(row.get("errors") or 0)
    return {
        "requests": requests,
        "errors": errors,
        "errorRate": round(errors / requests, 4) if requests else 0.0,
        "cost": round(int(row.get("cost") or 0) / 1_000_000, 6),
        "failovers": int(row.get("failovers") or 0),
    }


async def _latencies(db: Database, sql: str, params: list[Any]) -> dict[str, int | None]:
    # The latest rows by primary key (not the fastest: ORDER BY latency_ms LIMIT kept the quickest and sorted them all)
    rows = await db.all(
        f"SELECT latency_ms FROM request_log WHERE {sql} ORDER BY id DESC LIMIT ?", *params, STATS_MAX_ROWS
    )
    values = sorted(int(r["latency_ms"]) for r in rows)
    return {"p50": percentile(values, 0.5), "p95": percentile(values, 0.95)}


async def request_stats(db: Database, where: LogFilter, bucket_ms: int) -> dict[str, Any]:
    """Totals, percentiles, a time series and breakdowns by vendor and capability over the filtered rows."""
    sql, params = where.where()
    totals = _group(await db.first(f"SELECT {_SUMS} FROM request_log WHERE {sql}", *params) or {})
    totals["latencyMs"] = await _latencies(db, sql, params)
    series = await db.all(
        # CAST: D1 binds JS numbers, which may arrive as REAL; the bucket must be an integer division either way
        f"SELECT CAST(created_at / ? AS INTEGER) * ? AS t, {_SUMS} FROM request_log WHERE {sql} GROUP BY t ORDER BY t",
        bucket_ms, bucket_ms, *params,
    )  # fmt: skip
    by: dict[str, dict[str, Any]] = {}
    for column, name in (("vendor", "byVendor"), ("capability", "byCapability")):
        groups = await db.all(
            f"SELECT {column} AS k, {_SUMS} FROM request_log WHERE {sql} AND {column} IS NOT NULL GROUP BY k",
            *params,
        )
        by[name] = {}
        for g in groups:
            entry = _group(g)
            entry["latencyMs"] = await _latencies(db, f"{sql} AND {column} = ?", [*params, g["k"]])
            by[name][str(g["k"])] = entry
    return {
        "totals": totals,
        "bucketMs": bucket_ms,
        "series": [{"t": int(r["t"]), **_group(r)} for r in series],
        **by,
    }

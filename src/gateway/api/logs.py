"""The request log and the stats computed from it: ``/admin/logs`` and ``/admin/stats`` (admin token, every
workspace or one), ``/logs`` and ``/stats`` (a workspace key: its own workspace only)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query

from gateway.api.deps import Caller, admin_caller, require_found, workspace_caller
from gateway.errors import InvalidRequest
from gateway.ports import MAX_BOUND_INTEGER
from gateway.store.failovers import failovers_of
from gateway.store.request_log import MAX_PAGE, LogFilter, list_requests, request_stats

router = APIRouter(tags=["logs"])

DAY_MS = 86_400_000
BUCKETS = {"minute": 60_000, "hour": 3_600_000, "day": DAY_MS}


def _status_class(value: str | None) -> int | None:
    if value is None or value == "":
        return None
    digit = value[0]
    if digit not in "12345" or value[1:] not in ("", "xx", "XX"):  # not isdigit(): it takes "²" and other digits
        raise InvalidRequest("status must be a class like 2xx, 4xx or 5xx")
    return int(digit)


def _filter(workspace_id: str | None, status: str | None, vendor: str | None, route: str | None,
            since: int | None, until: int | None) -> LogFilter:  # fmt: skip
    return LogFilter(workspace_id=workspace_id, status_class=_status_class(status), vendor=vendor or None,
                     route=route or None, since_ms=since, until_ms=until)  # fmt: skip


async def _page(found: Caller, where: LogFilter, cursor: int | None, limit: int) -> dict[str, Any]:
    await found.gateway.recorder.flush()  # what was just served is in the log the console shows
    rows, next_cursor = await list_requests(found.gateway.runtime.db, where, cursor=cursor, limit=limit)
    return {"requests": rows, "nextCursor": None if next_cursor is None else str(next_cursor)}


_DOCS = {
    "status": Query(None, description="status class: 1xx (realtime sessions), 2xx, 3xx, 4xx or 5xx"),
    "since": Query(None, ge=0, le=MAX_BOUND_INTEGER, description="epoch ms, inclusive"),
    "until": Query(None, ge=0, le=MAX_BOUND_INTEGER, description="epoch ms, exclusive"),
    "cursor": Query(None, ge=0, le=MAX_BOUND_INTEGER, description="nextCursor of the previous page"),
    "limit": Query(50, ge=1, le=MAX_PAGE),
}


@router.get("/admin/logs", summary="The request log, newest first (admin)")
async def admin_logs(
    workspaceId: str | None = None, status: str | None = _DOCS["status"], vendor: str | None = None,
    route: str | None = None, since: int | None = _DOCS["since"], until: int | None = _DOCS["until"],
    cursor: int | None = _DOCS["cursor"], limit: int = _DOCS["limit"], found: Caller = Depends(admin_caller),
) -> dict[str, Any]:  # fmt: skip
    return await _page(found, _filter(workspaceId, status, vendor, route, since, until), cursor, limit)


@router.get("/logs", summary="The calling workspace's request log, newest first")
async def own_logs(
    status: str | None = _DOCS["status"], vendor: str | None = None, route: str | None = None,
    since: int | None = _DOCS["since"], until: int | None = _DOCS["until"], cursor: int | None = _DOCS["cursor"],
    limit: int = _DOCS["limit"], found: Caller = Depends(workspace_caller),
) -> dict[str, Any]:  # fmt: skip
    return await _page(found, _filter(found.workspace_id, status, vendor, route, since, until), cursor, limit)


async def _detail(found: Caller, request_id: str, workspace_id: str | None) -> dict[str, Any]:
    gateway = found.gateway
    await gateway.recorder.flush()
    rows, _ = await list_requests(
        gateway.runtime.db, LogFilter(request_id=request_id, workspace_id=workspace_id), cursor=None, limit=1
    )
    row = require_found(rows[0] if rows else None, "request")
    usage = await gateway.runtime.db.all(
        "SELECT provider, resource, model, segment, characters, audio_seconds, input_tokens, output_tokens,"
        " provider_cost_micros, final_cost_micros FROM usage_records WHERE request_id = ? ORDER BY segment",
        request_id,
    )
    failovers = await failovers_of(gateway.runtime.db, request_id)
    return {"request": row, "usage": usage, "failovers": failovers}


@router.get("/admin/logs/{request_id}", summary="One request: its log row, usage rows and failovers (admin)")
async def admin_log_detail(request_id: str, found: Caller = Depends(admin_caller)) -> dict[str, Any]:
    return await _detail(found, request_id, None)


@router.get("/logs/{request_id}", summary="One of the calling workspace's requests")
async def own_log_detail(request_id: str, found: Caller = Depends(workspace_caller)) -> dict[str, Any]:
    return await _detail(found, request_id, found.workspace_id)


async def _stats(found: Caller, workspace_id: str | None, since: int | None, until: int | None,
                 bucket: str) -> dict[str, Any]:  # fmt: skip
    if bucket not in BUCKETS:
        raise InvalidRequest("bucket must be minute, hour or day")
    gateway = found.gateway
    now_ms = int(gateway.runtime.clock.time() * 1000)
    since = now_ms - DAY_MS if since is None else since
    await gateway.recorder.flush()
    where = LogFilter(workspace_id=workspace_id, since_ms=since, until_ms=until)
    stats = await request_stats(gateway.runtime.db, where, BUCKETS[bucket])
    return {"workspaceId": workspace_id, "since": since, "until": until, **stats}


@router.get("/admin/stats", summary="Requests, error rate, p50/p95, spend and failovers from the request log (admin)")
async def admin_stats(
    workspaceId: str | None = None, since: int | None = _DOCS["since"], until: int | None = _DOCS["until"],
    bucket: str = Query("hour", description="minute, hour or day"), found: Caller = Depends(admin_caller),
) -> dict[str, Any]:  # fmt: skip
    return await _stats(found, workspaceId or None, since, until, bucket)


@router.get("/stats", summary="The calling workspace's request stats")
async def own_stats(
    since: int | None = _DOCS["since"], until: int | None = _DOCS["until"],
    bucket: str = Query("hour", description="minute, hour or day"), found: Caller = Depends(workspace_caller),
) -> dict[str, Any]:  # fmt: skip
    return await _stats(found, found.workspace_id, since, until, bucket)

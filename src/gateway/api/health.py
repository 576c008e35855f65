"""Liveness (public, cheap) and the detailed view for operators."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import PlainTextResponse

from gateway.api.deps import Caller, admin_caller
from gateway.health.view import operator_view
from gateway.settings import VERSION

router = APIRouter(tags=["health"])


@router.get("/health", summary="Liveness: no vendor calls, no database")
async def health() -> dict[str, Any]:
    return {"status": "ok", "version": VERSION}


@router.get("/health/detailed", summary="Vendor health, store reachability and timings (admin)")
async def health_detailed(found: Caller = Depends(admin_caller)) -> dict[str, Any]:
    gateway = found.gateway
    started = time.perf_counter()
    try:
        await gateway.runtime.db.first("SELECT 1 AS ok")
        store: dict[str, Any] = {"reachable": True}
    except Exception as exc:  # report, don't fail: this endpoint exists to show what is broken
        store = {"reachable": False, "error": type(exc).__name__}
    store["latencyMs"] = round((time.perf_counter() - started) * 1000, 2)
    started = time.perf_counter()
    snapshot = await gateway.health.snapshot()
    health_ms = round((time.perf_counter() - started) * 1000, 2)
    vendors = operator_view(snapshot, gateway.failover.breakers)  # global status + this isolate's breakers
    degraded = not store["reachable"] or any(v.get("status") == "down" for v in vendors.values())
    return {
        "status": "degraded" if degraded else "ok",
        "version": VERSION,
        "store": store,
        "healthService": {"latencyMs": health_ms},
        "vendors": vendors,
        "pendingWrites": gateway.recorder.pending,
    }


@router.get("/metrics", summary="Prometheus metrics of this instance (admin)", response_class=PlainTextResponse)
async def metrics(found: Caller = Depends(admin_caller)) -> PlainTextResponse:
    gateway = found.gateway
    gauges = {"vgw_pending_writes": float(gateway.recorder.pending), **await gateway.speech_cache.gauges()}
    return PlainTextResponse(gateway.metrics.render(gauges), media_type="text/plain; version=0.0.4")

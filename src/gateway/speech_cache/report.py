"""The cache's part of a usage report: hits, what they billed, what they saved, the hit ratio, the bytes held."""

from __future__ import annotations

from typing import Any

from gateway.ports import Database
from gateway.speech_cache.billing import CACHE_VENDOR
from gateway.speech_cache.stage import SpeechCache


def _usd(micros: Any) -> float:
    return round(int(micros or 0) / 1_000_000, 6)


async def cache_report(db: Database, cache: SpeechCache, workspace_id: str, period: str) -> dict[str, Any]:
    row = await db.first(
        "SELECT COUNT(DISTINCT CASE WHEN provider = ? THEN request_id END) AS hits,"
        " COUNT(DISTINCT request_id) AS requests,"
        " SUM(CASE WHEN provider = ? THEN characters END) AS characters,"
        " SUM(CASE WHEN provider = ? THEN final_cost_micros END) AS billed,"
        " SUM(saved_cost_micros) AS saved"
        " FROM usage_records WHERE workspace_id = ? AND billing_period = ? AND resource = 'tts'",
        CACHE_VENDOR, CACHE_VENDOR, CACHE_VENDOR, workspace_id, period,
    ) or {}  # fmt: skip
    hits, requests = int(row.get("hits") or 0), int(row.get("requests") or 0)
    stats = await cache.stats(workspace_id)
    return {
        "hits": hits,
        "ttsRequests": requests,
        "hitRatio": round(hits / requests, 4) if requests else 0.0,
        "characters": int(row.get("characters") or 0),
        "finalCost": _usd(row.get("billed")),  # what the hits were billed at the workspace's cache price
        "savedProviderCost": _usd(row.get("saved")),  # the vendor cost the hits avoided (dated list prices)
        "storedEntries": stats.entries,  # now, in the workspace's own scope (None when the store cannot tell)
        "storedBytes": stats.bytes,
    }

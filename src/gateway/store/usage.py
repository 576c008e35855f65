"""Usage rows, billing periods and usage reports.

Billing periods are calendar months (UTC). Creating one is race-free without read-then-insert: ``INSERT OR IGNORE``
against ``UNIQUE(workspace_id, period)`` and the partial unique index that allows one ``current`` period per
workspace, inside the same atomic batch as the usage rows it covers.
"""

from __future__ import annotations

import calendar
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from gateway.ids import new_id, new_row_id
from gateway.ports import Database, Statement

_month: tuple[str, int, int] = ("", 0, 0)  # the last month asked about: its name and [start, end) in epoch ms


def month_of(epoch_ms: int) -> tuple[str, int, int]:
    """(billing period ``YYYY-MM`` in UTC, its start, its end) of ``epoch_ms``; date arithmetic only when the month
    changes (every usage row and every admission asks)."""
    global _month
    if not _month[1] <= epoch_ms < _month[2]:
        moment = datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)
        period = f"{moment.year:04d}-{moment.month:02d}"
        _month = (period, *period_bounds(period))
    return _month


def period_of(epoch_ms: int) -> str:
    return month_of(epoch_ms)[0]


def period_bounds(period: str) -> tuple[int, int]:
    """[start, end) of a YYYY-MM period in epoch ms. Raises ValueError for anything else."""
    year_text, _, month_text = period.partition("-")
    if len(year_text) != 4 or len(month_text) != 2 or not (year_text + month_text).isdigit():
        raise ValueError("period must be YYYY-MM")
    year, month = int(year_text), int(month_text)
    if not 1 <= month <= 12:
        raise ValueError("period must be YYYY-MM")
    start = calendar.timegm((year, month, 1, 0, 0, 0))
    end = calendar.timegm((year + month // 12, month % 12 + 1, 1, 0, 0, 0))
    return start * 1000, end * 1000


@dataclass(frozen=True)
class UsageRow:
    request_id: str
    workspace_id: str
    api_key_id: str | None
    provider: str
    resource: str  # tts | stt | llm
    model: str | None
    segment: int
    characters: int | None
    audio_seconds: float | None
    input_tokens: int | None
    output_tokens: int | None
    unit_prices: dict[str, str]
    provider_cost_micros: int
    markup_percentage: float
    final_cost_micros: int
    created_at: int
    saved_cost_micros: int | None = None  # a speech-cache hit: the vendor cost it avoided (migration 0005)
    minutes: float | None = None  # a voice-agent call's length (migration 0004)

    @property
    def billing_period(self) -> str:
        return period_of(self.created_at)


def period_statements(workspace_id: str, period: str, now_ms: int) -> list[Statement]:
    start, end = period_bounds(period)
    return [
        (
            "UPDATE billing_periods SET status = 'closed' WHERE workspace_id = ? AND status = 'current' AND period < ?",
            (workspace_id, period),
        ),
        (
            "INSERT OR IGNORE INTO billing_periods (id, workspace_id, period, start_at, end_at, status, created_at)"
            " VALUES (?, ?, ?, ?, ?, 'current', ?)",
            (new_id("bp"), workspace_id, period, start, end, now_ms),
        ),
    ]


def usage_statement(row: UsageRow) -> Statement:
    return (
        "INSERT OR IGNORE INTO usage_records (id, request_id, workspace_id, api_key_id, provider, resource, model,"
        " segment, characters, audio_seconds, input_tokens, output_tokens, unit_prices, provider_cost_micros,"
        " markup_percentage, final_cost_micros, billing_period, created_at, saved_cost_micros, minutes)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            new_row_id("use"),
            row.request_id,
            row.workspace_id,
            row.api_key_id,
            row.provider,
            row.resource,
            row.model,
            row.segment,
            row.characters,
            row.audio_seconds,
            row.input_tokens,
            row.output_tokens,
            json.dumps(row.unit_prices, sort_keys=True),
            row.provider_cost_micros,
            row.markup_percentage,
            row.final_cost_micros,
            row.billing_period,
            row.created_at,
            row.saved_cost_micros,
            row.minutes,
        ),
    )


def _usd(micros: Any) -> float:
    return round(int(micros or 0) / 1_000_000, 6)


# Aliases must not reuse a grouped column's name: ``SUM(...) AS provider`` would shadow ``provider`` in
# ``GROUP BY provider`` rows, keying the report by cost sums instead of vendor ids.
_AGGREGATES = (
    "COUNT(DISTINCT request_id) AS requests, SUM(provider_cost_micros) AS provider_micros,"
    " SUM(final_cost_micros) AS final_micros,"
    " SUM(characters) AS characters, SUM(audio_seconds) AS audio_seconds, SUM(input_tokens) AS input_tokens,"
    " SUM(output_tokens) AS output_tokens"
)


def _bucket(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "requests": int(row["requests"] or 0),
        "providerCost": _usd(row["provider_micros"]),
        "finalCost": _usd(row["final_micros"]),
        "characters": int(row["characters"] or 0),
        "audioSeconds": round(float(row["audio_seconds"] or 0), 3),
        "inputTokens": int(row["input_tokens"] or 0),
        "outputTokens": int(row["output_tokens"] or 0),
    }


class UsageStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def report(self, workspace_id: str, period: str) -> dict[str, Any]:
        start, end = period_bounds(period)
        where = "FROM usage_records WHERE workspace_id = ? AND billing_period = ?"
        totals = await self.db.first(f"SELECT {_AGGREGATES} {where}", workspace_id, period)
        by_provider = await self.db.all(
            f"SELECT provider, {_AGGREGATES} {where} GROUP BY provider", workspace_id, period
        )
        by_resource = await self.db.all(
            f"SELECT resource, {_AGGREGATES} {where} GROUP BY resource", workspace_id, period
        )
        total = _bucket(totals or {"requests": 0, "provider_micros": 0, "final_micros": 0})
        return {
            "workspaceId": workspace_id,
            "period": {"start": start, "end": end, "name": period},
            "totals": {k: total[k] for k in ("requests", "providerCost", "finalCost")},
            "byProvider": {r["provider"]: _bucket(r) for r in by_provider},
            "byResource": {r["resource"]: _bucket(r) for r in by_resource},
        }

    async def spent_micros(self, workspace_id: str, period: str) -> tuple[int, float]:
        """(final cost in micro-dollars, audio seconds) billed to a workspace in a period."""
        row = await self.db.first(
            "SELECT SUM(final_cost_micros) AS final, SUM(audio_seconds) AS audio FROM usage_records"
            " WHERE workspace_id = ? AND billing_period = ?",
            workspace_id,
            period,
        )
        return int((row or {}).get("final") or 0), float((row or {}).get("audio") or 0.0)

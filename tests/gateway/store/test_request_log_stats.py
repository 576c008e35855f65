"""Request-log statistics: latency percentiles describe the latest requests, whatever their speed."""

from __future__ import annotations

import pytest

from gateway.store import request_log
from gateway.store.request_log import LogFilter, RequestRow, request_statement, request_stats
from runtimes.local.runtime import migrations_dir
from runtimes.local.sqlite_db import SQLiteDatabase


def row(n: int, latency_ms: int) -> RequestRow:
    return RequestRow(request_id=f"req_{n}", created_at=1_000 + n, workspace_id="ws", api_key_id=None, method="POST",
                      route="/voice/synthesize", status=200, vendor="openai", capability="tts", attempts=1,
                      latency_ms=latency_ms, ttfb_ms=None, characters=None, audio_seconds=None, input_tokens=None,
                      output_tokens=None, cost_micros=0, error_class=None)  # fmt: skip


async def test_percentiles_are_over_the_latest_rows_when_there_are_more_than_the_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    db = SQLiteDatabase(":memory:")
    await db.apply_migrations(migrations_dir())
    # Ten old fast requests, then four recent slow ones; only the latest four fit the bound.
    await db.batch([request_statement(row(n, 5)) for n in range(10)])
    await db.batch([request_statement(row(10 + n, 400 + n)) for n in range(4)])
    monkeypatch.setattr(request_log, "STATS_MAX_ROWS", 4)
    stats = await request_stats(db, LogFilter(workspace_id="ws"), 60_000)
    await db.close()
    assert stats["totals"]["latencyMs"] == {"p50": 401, "p95": 403}

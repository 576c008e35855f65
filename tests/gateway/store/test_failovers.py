"""A request's failovers are found by its id, however many other failovers came after them."""

from __future__ import annotations

from gateway.store.failovers import FailoverEvent, failover_statement, failovers_of
from runtimes.local.runtime import migrations_dir
from runtimes.local.sqlite_db import SQLiteDatabase


async def test_a_requests_failovers_newest_first_and_only_its_own() -> None:
    db = SQLiteDatabase(":memory:")
    await db.apply_migrations(migrations_dir())
    mine = [FailoverEvent("req_mine", "ws", "openai", to, "timeout", 5, "switched", 1) for to in ("deepgram", None)]
    others = [FailoverEvent(f"req_{n}", "ws", "openai", "deepgram", "server", 5, "switched", 2) for n in range(1500)]
    await db.batch([failover_statement(e) for e in mine])
    await db.batch([failover_statement(e) for e in others])
    plan = await db.all("EXPLAIN QUERY PLAN SELECT * FROM failover_logs WHERE request_id = ? ORDER BY id DESC", "x")
    found = await failovers_of(db, "req_mine")
    await db.close()
    assert [(f["to"], f["requestId"]) for f in found] == [(None, "req_mine"), ("deepgram", "req_mine")]
    assert any("idx_failover_request" in str(step["detail"]) for step in plan)

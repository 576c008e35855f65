"""The ``Database`` port on SQLite: D1's shapes (dict rows, RunResult, atomic batch) and safe concurrency."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import pytest

from gateway.ports import RunResult
from runtimes.local.sqlite_db import SQLiteDatabase

from .conftest import MIGRATIONS


async def make_workspace(db: SQLiteDatabase, workspace_id: str = "ws_1") -> None:
    await db.run(
        "INSERT INTO workspaces (id, name, created_at, updated_at) VALUES (?, ?, ?, ?)", workspace_id, "acme", 1, 1
    )


async def test_rows_are_dicts_and_run_reports_changes_and_row_id(db: SQLiteDatabase) -> None:
    result = await db.run(
        "INSERT INTO failover_logs (request_id, from_provider, error_class, elapsed_ms, result, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        "req_1",
        "openai",
        "timeout",
        1200,
        "failed_over",
        1_700_000_000_000,
    )
    assert result == RunResult(changes=1, last_row_id=1)
    row = await db.first("SELECT request_id, elapsed_ms, to_provider FROM failover_logs WHERE id = ?", 1)
    assert row == {"request_id": "req_1", "elapsed_ms": 1200, "to_provider": None}
    assert await db.first("SELECT * FROM failover_logs WHERE id = ?", 99) is None

    await make_workspace(db, "ws_a")
    await make_workspace(db, "ws_b")
    updated = await db.run("UPDATE workspaces SET status = ? WHERE id IN (?, ?)", "suspended", "ws_a", "ws_b")
    assert updated.changes == 2
    rows = await db.all("SELECT id, status FROM workspaces ORDER BY id")
    assert rows == [{"id": "ws_a", "status": "suspended"}, {"id": "ws_b", "status": "suspended"}]


async def test_bools_bind_as_integers_and_selects_report_no_changes(db: SQLiteDatabase) -> None:
    await db.run(
        "INSERT INTO platform_provider_configs (provider, enabled, updated_at) VALUES (?, ?, ?)", "openai", False, 5
    )
    row = await db.first("SELECT enabled, typeof(enabled) AS kind FROM platform_provider_configs")
    assert row == {"enabled": 0, "kind": "integer"}
    assert (await db.run("SELECT * FROM platform_provider_configs")).changes == 0


async def test_constraint_violations_raise_sqlite_integrity_error(db: SQLiteDatabase) -> None:
    await make_workspace(db)
    with pytest.raises(sqlite3.IntegrityError):
        await make_workspace(db)


async def test_foreign_keys_are_enforced_like_d1(db: SQLiteDatabase) -> None:
    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
        await db.run(
            "INSERT INTO api_keys (id, workspace_id, prefix, key_hash, created_at) VALUES (?, ?, ?, ?, ?)",
            "key_1",
            "ws_missing",
            "vgw_abc",
            "hash",
            1,
        )


async def test_batch_is_all_or_nothing(db: SQLiteDatabase) -> None:
    insert = "INSERT INTO workspaces (id, name, created_at, updated_at) VALUES (?, ?, 1, 1)"
    with pytest.raises(sqlite3.IntegrityError):
        await db.batch([(insert, ["ws_1", "one"]), (insert, ["ws_2", "two"]), (insert, ["ws_1", "again"])])
    assert await db.all("SELECT id FROM workspaces") == []

    # the failed batch left no transaction open: the next batch commits normally
    results = await db.batch(
        [(insert, ["ws_1", "one"]), ("UPDATE workspaces SET name = ? WHERE id = ?", ["renamed", "ws_1"])]
    )
    assert [r.changes for r in results] == [1, 1]
    assert await db.all("SELECT id, name FROM workspaces") == [{"id": "ws_1", "name": "renamed"}]
    assert await db.batch([]) == []


async def test_a_failed_batch_does_not_undo_earlier_writes(db: SQLiteDatabase) -> None:
    await make_workspace(db, "ws_kept")
    with pytest.raises(sqlite3.OperationalError):
        await db.batch([("DELETE FROM workspaces", []), ("SELECT * FROM no_such_table", [])])
    assert await db.all("SELECT id FROM workspaces") == [{"id": "ws_kept"}]


async def test_two_hundred_concurrent_writers_all_land(db: SQLiteDatabase) -> None:
    async def record(i: int) -> RunResult:
        return await db.run(
            "INSERT INTO failover_logs (request_id, from_provider, error_class, elapsed_ms, result, created_at)"
            " VALUES (?, 'openai', 'timeout', ?, 'failed_over', ?)",
            f"req_{i}",
            i,
            i,
        )

    results = await asyncio.gather(*(record(i) for i in range(200)))
    assert all(r.changes == 1 for r in results)
    assert sorted(r.last_row_id for r in results) == list(range(1, 201))  # each writer saw its own row id
    row = await db.first("SELECT COUNT(*) AS n, COUNT(DISTINCT request_id) AS distinct_ids FROM failover_logs")
    assert row == {"n": 200, "distinct_ids": 200}


async def test_queries_run_off_the_event_loop_thread(db: SQLiteDatabase) -> None:
    worker = await db._db.call(lambda conn: threading.get_ident())
    assert worker != threading.get_ident()


async def test_file_database_uses_wal_and_persists(tmp_path: Path) -> None:
    path = str(tmp_path / "d1.sqlite")
    db = SQLiteDatabase(path)
    await db.apply_migrations(MIGRATIONS)
    assert await db.first("PRAGMA journal_mode") == {"journal_mode": "wal"}
    await make_workspace(db)
    await db.close()
    await db.close()  # closing twice is harmless

    reopened = SQLiteDatabase(path)
    try:
        assert await reopened.apply_migrations(MIGRATIONS) == []
        assert await reopened.all("SELECT id FROM workspaces") == [{"id": "ws_1"}]
    finally:
        await reopened.close()


async def test_a_closed_database_refuses_queries() -> None:
    db = SQLiteDatabase(":memory:")
    await db.close()
    with pytest.raises(sqlite3.ProgrammingError):
        await db.all("SELECT 1")


FAILOVER_INSERT = (
    "INSERT INTO failover_logs (request_id, from_provider, error_class, elapsed_ms, result, created_at)"
    " VALUES (?, 'openai', 'timeout', 5, 'switched', 0)"
)


@pytest.fixture
async def file_db(tmp_path: Path) -> SQLiteDatabase:
    database = SQLiteDatabase(str(tmp_path / "d1.sqlite"))
    await database.apply_migrations(MIGRATIONS)
    yield database  # type: ignore[misc]
    await database.close()


async def test_a_batch_on_a_file_commits_on_the_loop_and_queries_see_it(file_db: SQLiteDatabase) -> None:
    results = await file_db.batch([(FAILOVER_INSERT, (f"req_{n}",)) for n in range(3)])
    assert [r.changes for r in results] == [1, 1, 1]
    assert await file_db.first("SELECT COUNT(*) AS n FROM failover_logs") == {"n": 3}
    with pytest.raises(sqlite3.IntegrityError):  # all or nothing on the loop's connection too
        await file_db.batch([(FAILOVER_INSERT, ("req_9",)), ("INSERT INTO workspaces (id) VALUES (NULL)", ())])
    assert await file_db.first("SELECT COUNT(*) AS n FROM failover_logs") == {"n": 3}


async def test_a_held_write_lock_sends_the_batch_to_the_database_thread_and_the_loop_runs_on(
    file_db: SQLiteDatabase, tmp_path: Path
) -> None:
    holder = sqlite3.connect(tmp_path / "d1.sqlite", isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")  # another process writing, say
    release = threading.Timer(0.3, lambda: holder.execute("COMMIT"))
    release.start()
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    ticker = asyncio.ensure_future(tick())
    await file_db.batch([(FAILOVER_INSERT, ("req_waited",))])
    ticker.cancel()
    release.join()
    holder.close()
    assert ticks >= 20  # the loop kept running while the batch waited for the lock
    assert await file_db.first("SELECT request_id FROM failover_logs") == {"request_id": "req_waited"}


async def test_the_wal_is_checkpointed_while_batches_commit_on_the_loop(
    file_db: SQLiteDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("runtimes.local.sqlite_db.CHECKPOINT_EVERY_COMMITS", 10)
    sizes = []
    for n in range(600):
        await file_db.batch([(FAILOVER_INSERT, (f"req_{n}",))])
        await asyncio.sleep(0)
        if n in (299, 599):
            sizes.append((tmp_path / "d1.sqlite-wal").stat().st_size // 4096)
    # Without checkpoints every commit's pages pile up (the loop's connection never checkpoints): ~3 per commit.
    assert sizes[0] < 300 and sizes[1] <= sizes[0], sizes  # bounded: ~900 and ~1800 pages without
    assert await file_db.first("SELECT COUNT(*) AS n FROM failover_logs") == {"n": 600}

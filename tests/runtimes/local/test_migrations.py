"""The D1 schema applied by the local runtime: recorded the way wrangler records it, idempotent, and enforcing the
invariants the core relies on (one current billing period, one usage row per request segment)."""

from __future__ import annotations

import re
import shutil
import sqlite3
from pathlib import Path

import pytest

from runtimes.local.sqlite_db import SQLiteDatabase, migration_files, split_statements

from .conftest import MIGRATIONS

TABLES = {
    "workspaces",
    "api_keys",
    "workspace_provider_configs",
    "platform_provider_configs",
    "workspace_provider_strategies",
    "platform_settings",
    "billing_periods",
    "usage_records",
    "failover_logs",
    "provider_health_status",
    "rate_admissions",
    "agents",
    "agent_calls",
    "workspace_speech_cache",
    "request_log",
}
SHIPPED = [p.name for p in migration_files(MIGRATIONS)]  # every migration in migrations/, in the order they apply


async def table_names(db: SQLiteDatabase) -> set[str]:
    rows = await db.all("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
    return {r["name"] for r in rows}


async def test_migrations_apply_to_an_empty_database_and_are_recorded_like_wrangler() -> None:
    db = SQLiteDatabase(":memory:")
    try:
        assert await db.apply_migrations(MIGRATIONS) == SHIPPED and SHIPPED[0] == "0001_init.sql"
        assert await table_names(db) == TABLES | {"d1_migrations"}

        # wrangler's table: id autoincrement, name unique, applied_at defaulting to CURRENT_TIMESTAMP (UTC text)
        columns = await db.all("SELECT name, type, \"notnull\", pk FROM pragma_table_info('d1_migrations')")
        assert columns == [
            {"name": "id", "type": "INTEGER", "notnull": 0, "pk": 1},
            {"name": "name", "type": "TEXT", "notnull": 0, "pk": 0},
            {"name": "applied_at", "type": "TIMESTAMP", "notnull": 1, "pk": 0},
        ]
        unique = await db.all("SELECT name FROM pragma_index_list('d1_migrations') WHERE \"unique\" = 1")
        assert len(unique) == 1
        recorded = await db.all("SELECT id, name, applied_at FROM d1_migrations")
        assert [(r["id"], r["name"]) for r in recorded] == list(enumerate(SHIPPED, start=1))
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", recorded[0]["applied_at"])
    finally:
        await db.close()


async def test_applying_again_applies_nothing(db: SQLiteDatabase) -> None:
    assert await db.apply_migrations(MIGRATIONS) == []
    assert await db.first("SELECT COUNT(*) AS n FROM d1_migrations") == {"n": len(SHIPPED)}


async def test_only_new_migrations_apply_in_name_order(db: SQLiteDatabase, tmp_path: Path) -> None:
    migrations = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS, migrations)
    (migrations / "9003_third.sql").write_text("ALTER TABLE notes ADD COLUMN body TEXT;\n")
    (migrations / "9002_second.sql").write_text("-- notes; for the test\nCREATE TABLE notes (id TEXT PRIMARY KEY);\n")
    (migrations / "README.md").write_text("not a migration")

    assert await db.apply_migrations(migrations) == ["9002_second.sql", "9003_third.sql"]
    assert [r["name"] for r in await db.all("PRAGMA table_info(notes)")] == ["id", "body"]
    assert [r["name"] for r in await db.all("SELECT name FROM d1_migrations ORDER BY id")] == [
        *SHIPPED,
        "9002_second.sql",
        "9003_third.sql",
    ]


async def test_a_failing_migration_leaves_no_trace(db: SQLiteDatabase, tmp_path: Path) -> None:
    migrations = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS, migrations)
    (migrations / "9002_broken.sql").write_text(
        "CREATE TABLE half_done (id INTEGER);\nINSERT INTO no_such_table VALUES (1);\n"
    )
    with pytest.raises(sqlite3.OperationalError, match="no_such_table"):
        await db.apply_migrations(migrations)
    assert "half_done" not in await table_names(db)
    assert await db.first("SELECT COUNT(*) AS n FROM d1_migrations") == {"n": len(SHIPPED)}


def test_statements_split_on_semicolons_outside_strings_and_comments() -> None:
    script = "-- a; comment\nCREATE TABLE t (v TEXT DEFAULT ';');\n\nINSERT INTO t VALUES ('a;b');\n-- trailing\n"
    assert split_statements(script) == [
        "-- a; comment\nCREATE TABLE t (v TEXT DEFAULT ';');",
        "INSERT INTO t VALUES ('a;b');",
    ]
    with pytest.raises(ValueError, match="incomplete"):
        split_statements("CREATE TABLE t (v TEXT);\nINSERT INTO t VALUES (1)")


async def test_platform_settings_are_seeded(db: SQLiteDatabase) -> None:
    rows = await db.all("SELECT key, value FROM platform_settings ORDER BY key")
    assert rows == [
        {"key": "builtin_fallback_enabled", "value": "true"},
        {"key": "pricing_markup_percentage", "value": "20"},
    ]


async def add_workspace(db: SQLiteDatabase, workspace_id: str) -> None:
    await db.run("INSERT INTO workspaces (id, name, created_at, updated_at) VALUES (?, 'w', 1, 1)", workspace_id)


async def add_period(db: SQLiteDatabase, period_id: str, workspace_id: str, period: str, status: str) -> None:
    await db.run(
        "INSERT INTO billing_periods (id, workspace_id, period, start_at, end_at, status, created_at)"
        " VALUES (?, ?, ?, 0, 1, ?, 0)",
        period_id,
        workspace_id,
        period,
        status,
    )


async def test_the_database_allows_one_current_billing_period_per_workspace(db: SQLiteDatabase) -> None:
    await add_workspace(db, "ws_1")
    await add_workspace(db, "ws_2")
    await add_period(db, "bp_1", "ws_1", "2026-10", "current")
    with pytest.raises(sqlite3.IntegrityError):
        await add_period(db, "bp_2", "ws_1", "2026-11", "current")
    await add_period(db, "bp_3", "ws_2", "2026-11", "current")  # another workspace has its own
    await add_period(db, "bp_4", "ws_1", "2026-09", "closed")  # closed ones are unlimited

    # rolling over: close the old one, then the new month may become current
    await db.run("UPDATE billing_periods SET status = 'closed' WHERE id = 'bp_1'")
    await add_period(db, "bp_5", "ws_1", "2026-11", "current")
    with pytest.raises(sqlite3.IntegrityError):  # and a month is never billed twice
        await add_period(db, "bp_6", "ws_1", "2026-11", "closed")


async def add_usage(db: SQLiteDatabase, usage_id: str, request_id: str, segment: int) -> None:
    await db.run(
        "INSERT INTO usage_records (id, request_id, workspace_id, provider, resource, segment, characters,"
        " provider_cost_micros, markup_percentage, final_cost_micros, billing_period, created_at)"
        " VALUES (?, ?, 'ws_1', 'openai', 'tts', ?, 42, 630, 20.0, 756, '2026-11', 0)",
        usage_id,
        request_id,
        segment,
    )


async def test_a_request_segment_is_billed_once(db: SQLiteDatabase) -> None:
    await add_usage(db, "u_1", "req_1", 0)
    await add_usage(db, "u_2", "req_1", 1)
    with pytest.raises(sqlite3.IntegrityError):
        await add_usage(db, "u_3", "req_1", 1)
    row = await db.first("SELECT SUM(final_cost_micros) AS total, MIN(unit_prices) AS prices FROM usage_records")
    assert row == {"total": 1512, "prices": "{}"}


@pytest.mark.parametrize(
    ("sql", "params"),
    [
        (
            "INSERT INTO workspace_provider_strategies (workspace_id, strategy, updated_at) VALUES (?, ?, 0)",
            ["ws_1", "cheapest"],
        ),
        (
            (
                "INSERT INTO billing_periods (id, workspace_id, period, start_at, end_at, status, created_at)"
                " VALUES ('bp', ?, '2026-11', 0, 1, ?, 0)"
            ),
            ["ws_1", "open"],
        ),
        (
            (
                "INSERT INTO usage_records (id, request_id, workspace_id, provider, resource, provider_cost_micros,"
                " markup_percentage, final_cost_micros, billing_period, created_at)"
                " VALUES ('u', 'r', ?, 'openai', ?, 0, 0, 0, '2026-11', 0)"
            ),
            ["ws_1", "video"],
        ),
    ],
    ids=["strategy", "period-status", "resource"],
)
async def test_checks_reject_unknown_values(db: SQLiteDatabase, sql: str, params: list[str]) -> None:
    await add_workspace(db, "ws_1")
    with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
        await db.run(sql, *params)

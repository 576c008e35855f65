"""The ``Database`` port on SQLite. D1 is SQLite, so the Worker's migrations and queries run here unchanged, and
migrations are recorded in the same ``d1_migrations`` table wrangler uses."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gateway.ports import Row, RunResult, Statement
from runtimes.local._sqlite import SQLiteThread

# wrangler's own DDL for its migrations table (workers-sdk: d1/migrations/helpers.ts).
MIGRATIONS_TABLE_DDL = (
    "CREATE TABLE IF NOT EXISTS d1_migrations("
    "id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE, "
    "applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL)"
)


def _bind(params: Sequence[Any]) -> tuple[Any, ...]:
    return tuple(int(p) if isinstance(p, bool) else p for p in params)


class SQLiteDatabase:
    def __init__(self, path: str) -> None:
        self._db = SQLiteThread(path)

    async def all(self, sql: str, *params: Any) -> list[Row]:
        return await self._db.call(lambda c: c.execute(sql, _bind(params)).fetchall())

    async def first(self, sql: str, *params: Any) -> Row | None:
        return await self._db.call(lambda c: c.execute(sql, _bind(params)).fetchone())

    async def run(self, sql: str, *params: Any) -> RunResult:
        def _run(conn: sqlite3.Connection) -> RunResult:
            cursor = conn.execute(sql, _bind(params))
            return RunResult(changes=cursor.rowcount, last_row_id=cursor.lastrowid)

        return await self._db.call(_run)

    async def batch(self, statements: Sequence[Statement]) -> list[RunResult]:
        """All or nothing, like D1's ``batch``."""

        def _batch(conn: sqlite3.Connection) -> list[RunResult]:
            results = []
            conn.execute("BEGIN IMMEDIATE")
            try:
                for sql, params in statements:
                    cursor = conn.execute(sql, _bind(params))
                    results.append(RunResult(changes=cursor.rowcount, last_row_id=cursor.lastrowid))
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return results

        return await self._db.call(_batch)

    async def apply_migrations(self, migrations_dir: Path) -> list[str]:
        """Apply every ``NNNN_*.sql`` not yet recorded, in order; each in its own transaction."""
        files = sorted(p for p in Path(migrations_dir).glob("*.sql") if p.name[:4].isdigit())

        def _apply(conn: sqlite3.Connection) -> list[str]:
            conn.execute(MIGRATIONS_TABLE_DDL)
            done = {row["name"] for row in conn.execute("SELECT name FROM d1_migrations").fetchall()}
            applied = []
            for path in files:
                if path.name in done:
                    continue
                conn.execute("BEGIN IMMEDIATE")
                try:
                    for statement in _split_statements(path.read_text()):
                        conn.execute(statement)
                    conn.execute("INSERT INTO d1_migrations (name) VALUES (?)", (path.name,))
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
                applied.append(path.name)
            return applied

        return await self._db.call(_apply)

    async def close(self) -> None:
        await self._db.close()


def _split_statements(script: str) -> list[str]:
    """Split a migration into statements (sqlite3.complete_statement knows about strings, comments and triggers)."""
    statements, current = [], ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            if current.strip():
                statements.append(current.strip())
            current = ""
    if current.strip() and not all(
        part.strip().startswith("--") or not part.strip() for part in current.splitlines()
    ):
        raise ValueError("migration ends with an incomplete statement")
    return statements

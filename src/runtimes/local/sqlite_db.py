"""The ``Database`` port on SQLite. D1 is SQLite, so the Worker's migrations and queries run here unchanged, and
migrations are recorded in the same ``d1_migrations`` table wrangler uses (a local state file and a D1 database
agree on what has been applied).

SQLite errors propagate as the ``sqlite3.Error`` subclasses sqlite3 raised: the core reads
``sqlite3.IntegrityError`` as a constraint violation.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gateway.ports import Row, RunResult, Statement
from runtimes.local._sqlite import MEMORY, SQLiteThread, transaction

log = logging.getLogger("gateway.sqlite")

MIGRATIONS_TABLE = "d1_migrations"
# wrangler's own DDL for its migrations table, character for character (workers-sdk, src/d1/migrations/helpers.ts:
# getCreateMigrationsTableQuery), so sqlite_master holds the same text on D1 and here.
MIGRATIONS_TABLE_DDL = (
    f'CREATE TABLE IF NOT EXISTS "{MIGRATIONS_TABLE}"(\n'
    "\t\tid         INTEGER PRIMARY KEY AUTOINCREMENT,\n"
    "\t\tname       TEXT UNIQUE,\n"
    "\t\tapplied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL\n"
    ");"
)


def _enforce_foreign_keys(conn: sqlite3.Connection) -> None:
    # D1 always enforces foreign keys (like PRAGMA foreign_keys = on); plain SQLite does not unless told to.
    conn.execute("PRAGMA foreign_keys=ON")


def _bind(params: Sequence[Any]) -> tuple[Any, ...]:
    return tuple(int(p) if isinstance(p, bool) else p for p in params)


def _execute(conn: sqlite3.Connection, sql: str, params: Sequence[Any]) -> RunResult:
    cursor = conn.execute(sql, _bind(params))
    # sqlite3 reports -1 changes for statements that change nothing (SELECT, DDL); D1 reports 0.
    return RunResult(changes=max(cursor.rowcount, 0), last_row_id=cursor.lastrowid)


def migration_files(migrations_dir: Path) -> list[Path]:
    """The files wrangler applies (its default pattern ``<migrations_dir>/*.sql``), in name order."""
    return sorted((p for p in Path(migrations_dir).glob("*.sql") if p.is_file()), key=lambda p: p.name)


def split_statements(script: str) -> list[str]:
    """A migration's statements, in order (``sqlite3.complete_statement`` knows strings, comments and triggers)."""
    statements, current = [], ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            if current.strip().strip(";").strip():
                statements.append(current.strip())
            current = ""
    leftover = "\n".join(ln for ln in current.splitlines() if ln.strip() and not ln.strip().startswith("--"))
    if leftover:
        raise ValueError(f"migration ends with an incomplete statement: {leftover[:80]!r}")
    return statements


CHECKPOINT_EVERY_COMMITS = 100  # loop-thread commits between checkpoints (run on the database's thread)


class SQLiteDatabase:
    """``path`` is a file (created if missing) or ``":memory:"``.

    Queries run on the database's own thread (``SQLiteThread``): a slow read never stalls the event loop. Batches —
    what every request writes (usage, request-log rows) — run on the event loop's thread instead, on a second
    connection, whenever the file's write lock is free at once: a commit of a request's few rows costs ~55 µs of
    CPU there, while handing it to the other thread and back cost ~170 µs more (a thread wake-up each way and the
    GIL changing hands), all of it on the request's critical path when the gateway is not busy (bench/overhead at
    one connection). When the lock is held (another process, the other thread), the batch goes to the database's
    thread and waits there, never on the loop. The loop's connection never checkpoints the WAL (a checkpoint can
    fsync): every ``CHECKPOINT_EVERY_COMMITS`` of its commits the database's thread does, and batches meanwhile queue
    behind it on that thread, so the checkpoint completes and the WAL starts over instead of growing."""

    def __init__(self, path: str = MEMORY) -> None:
        self._path = path
        self._db = SQLiteThread(path, setup=_enforce_foreign_keys)
        self._writer: sqlite3.Connection | None = None
        self._commits_since_checkpoint = 0
        self._checkpointing = False

    async def all(self, sql: str, *params: Any) -> list[Row]:
        return await self._db.call(lambda c: c.execute(sql, _bind(params)).fetchall())

    async def first(self, sql: str, *params: Any) -> Row | None:
        def _first(conn: sqlite3.Connection) -> Row | None:
            cursor = conn.execute(sql, _bind(params))
            try:
                return cursor.fetchone()
            finally:
                cursor.close()  # an unfinished SELECT would keep its read snapshot open

        return await self._db.call(_first)

    async def run(self, sql: str, *params: Any) -> RunResult:
        return await self._db.call(lambda c: _execute(c, sql, params))

    async def batch(self, statements: Sequence[Statement]) -> list[RunResult]:
        """All or nothing, in order, like D1's ``batch``."""
        if not statements:
            return []

        def run(conn: sqlite3.Connection) -> list[RunResult]:
            return [_execute(conn, sql, params) for sql, params in statements]

        writer = None if self._checkpointing else self._loop_writer()
        if writer is not None:
            try:
                writer.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                if not str(getattr(exc, "sqlite_errorname", "")).startswith("SQLITE_BUSY"):
                    raise
            else:
                try:
                    results = run(writer)
                    writer.execute("COMMIT")
                except BaseException:
                    if writer.in_transaction:
                        writer.execute("ROLLBACK")
                    raise
                self._after_loop_commit()
                return results
        return await self._db.call(lambda c: transaction(c, run))

    def _loop_writer(self) -> sqlite3.Connection | None:
        """The event loop thread's connection (files only: a second connection to ``:memory:`` is another
        database). ``busy_timeout=0``: a held lock is reported at once, and the batch goes to the other thread."""
        if self._path == MEMORY:
            return None
        if self._writer is None:
            conn = sqlite3.connect(self._path, isolation_level=None)
            conn.execute("PRAGMA busy_timeout=0")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA wal_autocheckpoint=0")
            _enforce_foreign_keys(conn)
            self._writer = conn
        return self._writer

    def _after_loop_commit(self) -> None:
        self._commits_since_checkpoint += 1
        if self._commits_since_checkpoint >= CHECKPOINT_EVERY_COMMITS and not self._checkpointing:
            self._commits_since_checkpoint = 0
            self._checkpointing = True
            asyncio.ensure_future(self._checkpoint())

    async def _checkpoint(self) -> None:
        try:
            await self._db.call(lambda c: c.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall())
        except sqlite3.Error:
            log.exception("WAL checkpoint failed (retried after the next commits)")
        finally:
            self._checkpointing = False

    async def apply_migrations(self, migrations_dir: Path | str) -> list[str]:
        """Apply every migration not yet recorded, in name order, each with its record in one transaction (as
        wrangler does); returns the names applied (empty when up to date)."""
        files = migration_files(Path(migrations_dir))
        scripts = [(path.name, path.read_text(encoding="utf-8")) for path in files]

        def _apply(conn: sqlite3.Connection) -> list[str]:
            conn.execute(MIGRATIONS_TABLE_DDL)
            done = {row["name"] for row in conn.execute(f"SELECT name FROM {MIGRATIONS_TABLE}").fetchall()}
            applied = []
            for name, script in scripts:
                if name in done:
                    continue

                def _one(c: sqlite3.Connection, name: str = name, script: str = script) -> bool:
                    # Another process on the same file may have applied it since we looked (several servers
                    # starting at once): decide again under the write lock.
                    if c.execute(f"SELECT 1 FROM {MIGRATIONS_TABLE} WHERE name = ?", (name,)).fetchone():
                        return False
                    for statement in split_statements(script):
                        c.execute(statement)
                    c.execute(f"INSERT INTO {MIGRATIONS_TABLE} (name) VALUES (?)", (name,))
                    return True

                if transaction(conn, _one):
                    applied.append(name)
            return applied

        return await self._db.call(_apply)

    async def close(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()
        await self._db.close()

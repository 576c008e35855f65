"""One SQLite connection owned by one worker thread: queries never block the event loop, and the connection is
never shared across threads (sqlite3 objects are not thread-safe). Every call is queued on that one thread, so
calls never interleave: a transaction opened inside one call cannot see another call's statements. (The gateway's
small write batches are the exception, committed on the loop's own connection: ``runtimes.local.sqlite_db``.)"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

MEMORY = ":memory:"


def _dict_row(cursor: sqlite3.Cursor, row: tuple[Any, ...]) -> dict[str, Any]:
    return {col[0]: value for col, value in zip(cursor.description, row)}


class SQLiteThread:
    """``setup`` runs once on the worker thread right after the connection opens (pragmas, schema)."""

    def __init__(self, path: str, setup: Callable[[sqlite3.Connection], None] | None = None) -> None:
        self._path = path
        self._conn: sqlite3.Connection | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite")
        try:
            self._executor.submit(self._open, setup).result()
        except BaseException:
            self._executor.shutdown(wait=False)
            raise

    def _open(self, setup: Callable[[sqlite3.Connection], None] | None) -> None:
        # isolation_level=None: autocommit, so transactions are only the explicit BEGIN ... COMMIT we write.
        conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=True)
        conn.row_factory = _dict_row
        conn.execute("PRAGMA busy_timeout=5000")  # another process (a second `dev` server) may hold the write lock
        if self._path != MEMORY:
            conn.execute("PRAGMA journal_mode=WAL")  # readers never wait for the writer
            conn.execute("PRAGMA synchronous=NORMAL")  # durable across process crashes; WAL makes it safe
        if setup is not None:
            setup(conn)
        self._conn = conn

    async def call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(connection)`` on the connection's thread; its exceptions propagate unchanged."""
        conn = self._conn
        if conn is None:
            raise sqlite3.ProgrammingError("Cannot operate on a closed database.")
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, conn)

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        await asyncio.get_running_loop().run_in_executor(self._executor, conn.close)
        self._executor.shutdown(wait=True)


def transaction(conn: sqlite3.Connection, body: Callable[[sqlite3.Connection], T]) -> T:
    """``body`` inside ``BEGIN IMMEDIATE ... COMMIT`` (the write lock up front, so no upgrade deadlock); any error
    rolls everything back and propagates unchanged."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = body(conn)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:  # some errors (e.g. SQLITE_FULL) have already rolled back
            conn.execute("ROLLBACK")
        raise
    return result

"""One SQLite connection owned by one worker thread: the event loop never blocks on disk, and the connection is
never shared across threads (sqlite3 objects are not thread-safe)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


def _dict_row(cursor: sqlite3.Cursor, row: tuple[Any, ...]) -> dict[str, Any]:
    return {col[0]: value for col, value in zip(cursor.description, row)}


class SQLiteThread:
    def __init__(self, path: str) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite")
        self._conn: sqlite3.Connection | None = None
        self._path = path
        self._executor.submit(self._open).result()

    def _open(self) -> None:
        conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=True)
        conn.row_factory = _dict_row
        if self._path != ":memory:":
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=5000")
        self._conn = conn

    @property
    def conn(self) -> sqlite3.Connection:
        assert self._conn is not None, "database closed"
        return self._conn

    async def call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, lambda: fn(self.conn))

    async def close(self) -> None:
        if self._conn is None:
            return

        def _close(conn: sqlite3.Connection) -> None:
            conn.close()

        await self.call(_close)
        self._conn = None
        self._executor.shutdown(wait=True)

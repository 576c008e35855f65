"""The ``KeyValue`` port on a SQLite file of its own (KV's semantics: string values, optional expiry, prefix
listing). Unlike Workers KV, any TTL is honoured exactly (no 60-second minimum), which keeps tests fast."""

from __future__ import annotations

import sqlite3

from gateway.ports import Clock, SystemClock
from runtimes.local._sqlite import MEMORY, SQLiteThread


def _create_table(conn: sqlite3.Connection) -> None:
    # expires_at: wall-clock seconds since the epoch, NULL for "never".
    conn.execute("CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL, expires_at REAL)")


class SQLiteKV:
    """``path`` is a file (created if missing) or ``":memory:"``; ``clock`` decides when entries expire."""

    def __init__(self, path: str = MEMORY, clock: Clock | None = None) -> None:
        self._db = SQLiteThread(path, setup=_create_table)
        self._clock = clock or SystemClock()

    async def get(self, key: str) -> str | None:
        now = self._clock.time()

        def _get(conn: sqlite3.Connection) -> str | None:
            row = conn.execute("SELECT value, expires_at FROM kv WHERE key = ?", (key,)).fetchone()
            if row is None:
                return None
            if row["expires_at"] is not None and row["expires_at"] <= now:
                conn.execute("DELETE FROM kv WHERE key = ? AND expires_at <= ?", (key, now))
                return None
            return str(row["value"])

        return await self._db.call(_get)

    async def put(self, key: str, value: str, ttl_seconds: int | None = None) -> None:
        expires_at = None if ttl_seconds is None else self._clock.time() + ttl_seconds
        await self._db.call(
            lambda c: c.execute(
                "INSERT INTO kv (key, value, expires_at) VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE SET"
                " value = excluded.value, expires_at = excluded.expires_at",
                (key, str(value), expires_at),
            )
        )

    async def delete(self, key: str) -> None:
        await self._db.call(lambda c: c.execute("DELETE FROM kv WHERE key = ?", (key,)))

    async def list(self, prefix: str = "") -> list[str]:
        """Live key names starting with ``prefix``, in key order (as KV lists them)."""
        now = self._clock.time()

        def _list(conn: sqlite3.Connection) -> list[str]:
            conn.execute("DELETE FROM kv WHERE expires_at <= ?", (now,))  # the sweep keeps the file small
            # substr, not LIKE: a prefix may contain % or _ and must match literally (and case-sensitively).
            rows = conn.execute(
                "SELECT key FROM kv WHERE substr(key, 1, ?) = ? ORDER BY key", (len(prefix), prefix)
            ).fetchall()
            return [row["key"] for row in rows]

        return await self._db.call(_list)

    async def close(self) -> None:
        await self._db.close()

"""The ``KeyValue`` port on a SQLite file (KV's semantics: string values, optional expiry, prefix listing)."""

from __future__ import annotations

import sqlite3
import time

from runtimes.local._sqlite import SQLiteThread


class SQLiteKV:
    def __init__(self, path: str, clock: object | None = None) -> None:
        self._db = SQLiteThread(path)
        self._now = getattr(clock, "time", time.time)
        self._ready = False

    async def _ensure(self) -> None:
        if not self._ready:
            await self._db.call(
                lambda c: c.execute(
                    "CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL, expires_at REAL)"
                )
            )
            self._ready = True

    async def get(self, key: str) -> str | None:
        await self._ensure()
        now = self._now()

        def _get(conn: sqlite3.Connection) -> str | None:
            row = conn.execute("SELECT value, expires_at FROM kv WHERE key = ?", (key,)).fetchone()
            if row is None or (row["expires_at"] is not None and row["expires_at"] <= now):
                return None
            return str(row["value"])

        return await self._db.call(_get)

    async def put(self, key: str, value: str, ttl_seconds: int | None = None) -> None:
        await self._ensure()
        expires = self._now() + ttl_seconds if ttl_seconds else None
        await self._db.call(
            lambda c: c.execute(
                "INSERT INTO kv (key, value, expires_at) VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE SET"
                " value = excluded.value, expires_at = excluded.expires_at",
                (key, value, expires),
            )
        )

    async def delete(self, key: str) -> None:
        await self._ensure()
        await self._db.call(lambda c: c.execute("DELETE FROM kv WHERE key = ?", (key,)))

    async def list(self, prefix: str = "") -> list[str]:
        await self._ensure()
        now = self._now()
        rows = await self._db.call(
            lambda c: c.execute(
                "SELECT key FROM kv WHERE substr(key, 1, ?) = ? AND (expires_at IS NULL OR expires_at > ?)"
                " ORDER BY key",
                (len(prefix), prefix, now),
            ).fetchall()
        )
        return [row["key"] for row in rows]

    async def close(self) -> None:
        await self._db.close()

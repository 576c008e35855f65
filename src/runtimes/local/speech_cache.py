"""The speech cache's local store: a SQLite file of its own under the state dir (``speech-cache.sqlite``), so the
cache can be deleted at any time without touching the gateway's database.

- TTL: each entry's ``expires_at``; an expired entry is never returned and is swept when space is needed.
- Size: at most ``max_bytes`` of audio. A write that goes over first drops expired entries, then the least recently
  used until the total is back under 90 % of the limit (LRU-ish: a hit bumps ``last_used`` at most every
  ``TOUCH_SECONDS``).
"""

from __future__ import annotations

import json
import sqlite3

from gateway.ports import Clock, SystemClock
from gateway.speech_cache.key import CacheKey
from gateway.speech_cache.store import CachedAudio, StoreStats
from runtimes.local._sqlite import MEMORY, SQLiteThread, transaction

DEFAULT_MAX_BYTES = 256 * 1024 * 1024
LOW_WATER_PERCENT = 90
TOUCH_SECONDS = 10  # recency is kept to this granularity: enough for eviction order, one write per hot entry per 10 s


def _create_table(conn: sqlite3.Connection) -> None:
    conn.execute(
        "CREATE TABLE IF NOT EXISTS speech_cache (scope TEXT NOT NULL, digest TEXT NOT NULL, audio BLOB NOT NULL,"
        " meta TEXT NOT NULL, size INTEGER NOT NULL, expires_at REAL NOT NULL, last_used REAL NOT NULL,"
        " PRIMARY KEY (scope, digest))"
    )
    conn.execute("CREATE INDEX IF NOT EXISTS speech_cache_last_used ON speech_cache (last_used)")


class LocalSpeechCacheStore:
    def __init__(self, path: str = MEMORY, *, max_bytes: int = DEFAULT_MAX_BYTES, clock: Clock | None = None) -> None:
        self._db = SQLiteThread(path, setup=_create_table)
        self.max_bytes = max_bytes
        self.low_water = max_bytes * LOW_WATER_PERCENT // 100
        self.clock = clock or SystemClock()

    async def get(self, key: CacheKey) -> CachedAudio | None:
        now = self.clock.time()

        def _get(conn: sqlite3.Connection) -> CachedAudio | None:
            row = conn.execute(
                "SELECT audio, meta, last_used FROM speech_cache WHERE scope = ? AND digest = ? AND expires_at > ?",
                (key.scope, key.digest, now),
            ).fetchone()
            if row is None:
                return None
            if now - row["last_used"] > TOUCH_SECONDS:  # a hot entry is not rewritten on every hit
                conn.execute("UPDATE speech_cache SET last_used = ? WHERE scope = ? AND digest = ?",
                             (now, key.scope, key.digest))  # fmt: skip
            return CachedAudio.from_meta(bytes(row["audio"]), json.loads(row["meta"]))

        return await self._db.call(_get)

    async def put(self, key: CacheKey, entry: CachedAudio) -> None:
        size = len(entry.audio)
        if size > self.max_bytes - self.low_water:
            return  # one entry may not take more than the eviction margin: it would flush everything else
        now = self.clock.time()

        def _put(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO speech_cache (scope, digest, audio, meta, size, expires_at, last_used)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(scope, digest) DO UPDATE SET audio = excluded.audio,"
                " meta = excluded.meta, size = excluded.size, expires_at = excluded.expires_at,"
                " last_used = excluded.last_used",
                (key.scope, key.digest, entry.audio, json.dumps(entry.meta()), size, entry.expires_at, now),
            )
            total = conn.execute("SELECT COALESCE(SUM(size), 0) AS total FROM speech_cache").fetchone()["total"]
            if total > self.max_bytes:
                self._evict(conn, now, total)

        await self._db.call(lambda conn: transaction(conn, _put))

    def _evict(self, conn: sqlite3.Connection, now: float, total: int) -> None:
        total -= conn.execute(
            "SELECT COALESCE(SUM(size), 0) AS freed FROM speech_cache WHERE expires_at <= ?", (now,)
        ).fetchone()["freed"]
        conn.execute("DELETE FROM speech_cache WHERE expires_at <= ?", (now,))
        target = self.low_water
        if total <= target:
            return
        doomed: list[tuple[str, str]] = []
        for row in conn.execute("SELECT scope, digest, size FROM speech_cache ORDER BY last_used"):
            if total <= target:
                break
            doomed.append((row["scope"], row["digest"]))
            total -= row["size"]
        conn.executemany("DELETE FROM speech_cache WHERE scope = ? AND digest = ?", doomed)

    async def purge(self, scope: str) -> int:
        return await self._db.call(lambda c: c.execute("DELETE FROM speech_cache WHERE scope = ?", (scope,)).rowcount)

    async def stats(self, scope: str | None = None) -> StoreStats:
        now = self.clock.time()
        where, params = (
            ("WHERE expires_at > ? AND scope = ?", (now, scope)) if scope else ("WHERE expires_at > ?", (now,))
        )
        sql = f"SELECT COUNT(*) AS n, COALESCE(SUM(size), 0) AS b FROM speech_cache {where}"
        row = await self._db.call(lambda c: c.execute(sql, params).fetchone())
        return StoreStats(int(row["n"]), int(row["b"]))

    async def close(self) -> None:
        await self._db.close()

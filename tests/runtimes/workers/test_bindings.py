"""D1 and KV adapters against stand-in bindings (D1's SQL really runs, on sqlite3)."""

from __future__ import annotations

import pytest

from gateway.ports import RunResult
from runtimes.workers.d1 import D1Database
from runtimes.workers.kv import KV_MIN_TTL_SECONDS, WorkersKV

from . import standins


@pytest.fixture(params=[False, True], ids=["sdk-wrapped", "raw-jsproxy"])
def d1(request, sdk, sqlite_conn) -> tuple[D1Database, standins.D1Database]:
    binding = standins.D1Database(sqlite_conn, raw=request.param)
    return D1Database(binding), binding


async def test_run_all_first_round_trip_values(d1):
    db, _ = d1
    result = await db.run(
        "INSERT INTO wr_items (name, flag, payload, note) VALUES (?, ?, ?, ?)", "alpha", True, b"\x00\x01\xff", None
    )
    assert result == RunResult(changes=1, last_row_id=1)
    await db.run("INSERT INTO wr_items (name, flag) VALUES (?, ?)", "beta", False)

    rows = await db.all("SELECT name, flag, payload, note FROM wr_items ORDER BY id")
    assert rows == [
        {"name": "alpha", "flag": 1, "payload": b"\x00\x01\xff", "note": None},
        {"name": "beta", "flag": 0, "payload": None, "note": None},
    ]
    assert all(type(row) is dict for row in rows)  # plain dicts, never JsDict / JsProxy
    assert await db.first("SELECT name FROM wr_items WHERE flag = ?", False) == {"name": "beta"}
    assert await db.first("SELECT name FROM wr_items WHERE name = ?", "nobody") is None
    assert await db.all("SELECT * FROM wr_items WHERE name = ?", "nobody") == []


async def test_update_reports_changes(d1):
    db, _ = d1
    for name in ("a", "b", "c"):
        await db.run("INSERT INTO wr_items (name) VALUES (?)", name)
    result = await db.run("UPDATE wr_items SET note = ? WHERE name != ?", "x", "a")
    assert result.changes == 2


async def test_batch_is_atomic(d1):
    db, binding = d1
    results = await db.batch(
        [
            ("INSERT INTO wr_items (name) VALUES (?)", ("one",)),
            ("INSERT INTO wr_items (name) VALUES (?)", ("two",)),
        ]
    )
    assert [r.changes for r in results] == [1, 1]
    assert binding.calls[-1][0] == "BATCH"  # one D1 batch call, not statement by statement

    with pytest.raises(standins.JsException, match="UNIQUE"):
        await db.batch(
            [
                ("INSERT INTO wr_items (name) VALUES (?)", ("three",)),
                ("INSERT INTO wr_items (name) VALUES (?)", ("one",)),  # violates UNIQUE: nothing of the batch stays
            ]
        )
    assert [r["name"] for r in await db.all("SELECT name FROM wr_items ORDER BY id")] == ["one", "two"]
    assert await db.batch([]) == []


async def test_values_d1_cannot_hold_are_refused_before_the_call(d1):
    db, binding = d1
    with pytest.raises(ValueError, match="JS number"):
        await db.run("INSERT INTO wr_items (name, flag) VALUES (?, ?)", "big", 2**60)
    with pytest.raises(TypeError, match="dict"):
        await db.run("INSERT INTO wr_items (name, note) VALUES (?, ?)", "obj", {"a": 1})
    assert binding.calls == []


async def test_project_migrations_apply_to_d1_sql(sdk, sqlite_conn):
    """The sqlite the stand-in runs on holds the project's migrations (when present): D1 sees the same schema."""
    db = D1Database(standins.D1Database(sqlite_conn))
    tables = {r["name"] for r in await db.all("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"wr_items", "provider_health_status"} <= tables


# ---------------------------------------------------------------------------------------------------- KV


async def test_kv_get_put_delete(sdk):
    binding = standins.KVNamespace()
    kv = WorkersKV(binding)
    assert await kv.get("missing") is None
    await kv.put("k", "v")
    assert await kv.get("k") == "v" and "k" not in binding.ttls
    await kv.delete("k")
    assert await kv.get("k") is None


@pytest.mark.parametrize(("asked", "stored"), [(1, KV_MIN_TTL_SECONDS), (59.2, 60), (60, 60), (300.5, 301)])
async def test_kv_ttl_is_clamped_to_kv_minimum(sdk, asked, stored):
    binding = standins.KVNamespace()
    await WorkersKV(binding).put("cache:x", "1", ttl_seconds=asked)
    assert binding.ttls["cache:x"] == stored


async def test_kv_stand_in_rejects_short_ttl_like_kv_does(sdk):
    with pytest.raises(standins.JsException, match="at least 60"):
        await standins.KVNamespace().put("k", "v", expirationTtl=30)


async def test_kv_list_follows_the_cursor(sdk):
    binding = standins.KVNamespace(page_size=2)
    kv = WorkersKV(binding)
    for name in ("ws:a", "ws:b", "ws:c", "ws:d", "ws:e", "other"):
        await kv.put(name, "1")
    assert await kv.list("ws:") == ["ws:a", "ws:b", "ws:c", "ws:d", "ws:e"]
    assert len(binding.list_calls) == 3 and binding.list_calls[1]["cursor"]
    assert sorted(await kv.list()) == ["other", "ws:a", "ws:b", "ws:c", "ws:d", "ws:e"]

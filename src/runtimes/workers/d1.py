"""``gateway.ports.Database`` over a D1 binding (``env.DB``).

D1 is SQLite, so the SQL the core writes runs unchanged; only values need care at the boundary:
Python ``None`` binds as NULL, ``bool`` as 0/1 (what SQLite stores anyway), bytes as a ``Uint8Array`` (BLOB).
D1 hands BLOB columns back as arrays of byte values; rows leave here as plain dicts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gateway.ports import Row, RunResult, Statement

from .convert import to_python

# JS numbers are doubles: a larger int would silently lose precision (or become a BigInt, which D1 rejects).
MAX_SAFE_INTEGER = 2**53 - 1


def to_d1_value(value: Any) -> Any:
    if value is None or isinstance(value, (str, float)):
        return value
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            raise ValueError(f"integer {value} does not fit a JS number; store it as text")
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        from pyodide.ffi import to_js

        return to_js(bytes(value))
    raise TypeError(f"D1 cannot bind a {type(value).__name__}")


def _row(row: dict[str, Any]) -> Row:
    # Scalar columns only exist in SQL; a list in a cell is how D1 returns a BLOB.
    return {k: bytes(v) if isinstance(v, list) else v for k, v in row.items()}


def _run_result(raw: Any) -> RunResult:
    meta = (to_python(raw) or {}).get("meta") or {}
    last_row_id = meta.get("last_row_id")
    return RunResult(
        changes=int(meta.get("changes") or 0), last_row_id=None if last_row_id is None else int(last_row_id)
    )


class D1Database:
    def __init__(self, binding: Any) -> None:
        self._db = binding

    def _prepare(self, sql: str, params: Sequence[Any]) -> Any:
        statement = self._db.prepare(sql)
        return statement.bind(*[to_d1_value(p) for p in params]) if params else statement

    async def all(self, sql: str, *params: Any) -> list[Row]:
        result = to_python(await self._prepare(sql, params).all()) or {}
        return [_row(r) for r in result.get("results") or []]

    async def first(self, sql: str, *params: Any) -> Row | None:
        row = to_python(await self._prepare(sql, params).first())
        return None if row is None else _row(row)

    async def run(self, sql: str, *params: Any) -> RunResult:
        return _run_result(await self._prepare(sql, params).run())

    async def batch(self, statements: Sequence[Statement]) -> list[RunResult]:
        if not statements:
            return []
        # D1 runs a batch as one implicit transaction: all statements succeed or none is applied.
        results = to_python(await self._db.batch([self._prepare(sql, params) for sql, params in statements]))
        return [_run_result(r) for r in results]

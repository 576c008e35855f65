"""Install the ``js``/``pyodide``/``workers`` stand-ins for a test, and drop anything imported against them."""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from . import standins

# Modules that bind to the stand-ins at import time (they subclass WorkerEntrypoint / DurableObject).
WORKER_MODULES = ("entry", "health_do", "limits_do")
MIGRATIONS = Path(__file__).resolve().parents[3] / "migrations"


@pytest.fixture
def sdk(monkeypatch: pytest.MonkeyPatch) -> Iterator[standins.StandIns]:
    installed = standins.build()
    for name, module in installed.modules.items():
        monkeypatch.setitem(sys.modules, name, module)
    for name in WORKER_MODULES:
        monkeypatch.delitem(sys.modules, name, raising=False)
    yield installed
    for name in WORKER_MODULES:
        sys.modules.pop(name, None)


@pytest.fixture
def sqlite_conn() -> Iterator[sqlite3.Connection]:
    """A real SQLite database: the project's migrations when they exist, plus a scratch table for adapter tests."""
    conn = sqlite3.connect(":memory:")
    for migration in sorted(MIGRATIONS.glob("*.sql")) if MIGRATIONS.is_dir() else []:
        conn.executescript(migration.read_text())
    conn.executescript(
        """
        CREATE TABLE wr_items (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE,
                               flag INTEGER, payload BLOB, note TEXT);
        CREATE TABLE IF NOT EXISTS provider_health_status (
            id INTEGER PRIMARY KEY AUTOINCREMENT, provider TEXT NOT NULL, status TEXT NOT NULL, error_rate REAL,
            latency_ms REAL, circuit TEXT, error TEXT, checked_at INTEGER NOT NULL);
        """
    )
    yield conn
    conn.close()

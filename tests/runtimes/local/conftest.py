from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from runtimes.local.sqlite_db import SQLiteDatabase

MIGRATIONS = Path(__file__).resolve().parents[3] / "migrations"


@pytest.fixture
async def db() -> AsyncIterator[SQLiteDatabase]:
    """An in-memory database with the project's migrations applied."""
    database = SQLiteDatabase(":memory:")
    await database.apply_migrations(MIGRATIONS)
    yield database
    await database.close()

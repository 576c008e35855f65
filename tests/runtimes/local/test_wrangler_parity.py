"""The local runtime builds the same schema wrangler builds on D1 (miniflare's local D1, offline), and records the
same migrations. Needs the pinned wrangler (`npm ci`; scripts/check-d1-migrations.sh installs it); skipped without
it. Slower than most tests (one wrangler run, a few seconds) because it is the only proof of that parity."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from runtimes.local.sqlite_db import SQLiteDatabase

from .conftest import MIGRATIONS

ROOT = MIGRATIONS.parent
BIN = ROOT / "node_modules" / ".bin"

pytestmark = pytest.mark.skipif(not (BIN / "wrangler").exists(), reason="wrangler not installed (npm ci)")

# The runtime's own bookkeeping tables, not part of our schema.
WRANGLER_INTERNAL = ("_cf_%", "sqlite_%")


def schema(conn: sqlite3.Connection) -> set[tuple[str, str, str, str | None]]:
    rows = conn.execute(
        "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE NOT (tbl_name LIKE ? OR tbl_name LIKE ?)",
        WRANGLER_INTERNAL,
    ).fetchall()
    return {tuple(row) for row in rows}


def wrangler_database(tmp_path: Path) -> Path:
    work = tmp_path / "wrangler"
    work.mkdir()
    shutil.copy(ROOT / "wrangler.toml", work)
    shutil.copytree(MIGRATIONS, work / "migrations")
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "CI": "true",
        "WRANGLER_SEND_METRICS": "false",
        "WRANGLER_HIDE_BANNER": "true",
        "WRANGLER_LOG_PATH": str(work / "logs"),
        "XDG_CONFIG_HOME": str(work / "config"),
    }
    done = subprocess.run(
        ["wrangler", "d1", "migrations", "apply", "DB", "--local"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    files = [p for p in (work / ".wrangler").rglob("*.sqlite") if "D1DatabaseObject" in str(p) and p.stem != "metadata"]
    assert len(files) == 1, files
    return files[0]


async def test_local_schema_and_migration_records_match_wranglers_d1(tmp_path: Path) -> None:
    d1 = sqlite3.connect(wrangler_database(tmp_path))
    local_path = tmp_path / "local.sqlite"
    db = SQLiteDatabase(str(local_path))
    await db.apply_migrations(MIGRATIONS)
    await db.close()
    local = sqlite3.connect(local_path)
    try:
        assert schema(local) == schema(d1)
        migrations = "SELECT id, name FROM d1_migrations ORDER BY id"
        assert local.execute(migrations).fetchall() == d1.execute(migrations).fetchall()
        settings = "SELECT key, value, updated_at FROM platform_settings ORDER BY key"
        assert local.execute(settings).fetchall() == d1.execute(settings).fetchall()
    finally:
        local.close()
        d1.close()

"""The local twin of Workers Static Assets: the repo's ``static/`` directory (wrangler.toml ``[assets]``) served
under the same paths — ``/console/`` (the console) and ``/docs-assets/`` (Swagger UI and ReDoc files)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.staticfiles import StaticFiles

from runtimes.local.config import PROJECT_ROOT

MOUNTS = ("console", "docs-assets")


def static_dir() -> Path | None:
    for base in (PROJECT_ROOT, Path.cwd()):
        if (base / "static" / "console").is_dir():
            return base / "static"
    return None


def mount_static(app: Any) -> Path | None:
    """Mount what exists; returns the directory served (None: not a checkout, nothing to serve)."""
    root = static_dir()
    if root is None:
        return None
    for name in MOUNTS:
        if (root / name).is_dir():
            app.mount(f"/{name}", StaticFiles(directory=root / name, html=True), name=name)
    return root

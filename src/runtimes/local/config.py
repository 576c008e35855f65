"""Configuration for the local runtime, read like ``wrangler dev`` reads it: ``wrangler.toml`` ``[vars]``, then
``.dev.vars``, then the process environment (later wins)."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[3]


def find_project_file(name: str, start: Path | None = None) -> Path | None:
    """``name`` in the working directory or the project checkout this package runs from."""
    for base in (start or Path.cwd(), PROJECT_ROOT):
        candidate = base / name
        if candidate.exists():
            return candidate
    return None


def read_wrangler_vars(path: Path | None) -> dict[str, str]:
    if path is None:
        return {}
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    return {str(k): str(v) for k, v in (data.get("vars") or {}).items()}


def read_dev_vars(path: Path | None) -> dict[str, str]:
    """``KEY=VALUE`` lines (dotenv subset: comments, blank lines, optional quotes)."""
    if path is None:
        return {}
    out: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        out[key.strip()] = value
    return out


def load_env(environ: Mapping[str, str] | None = None, start: Path | None = None) -> dict[str, str]:
    env = read_wrangler_vars(find_project_file("wrangler.toml", start))
    env.update(read_dev_vars(find_project_file(".dev.vars", start)))
    env.update(environ if environ is not None else os.environ)
    env.setdefault("ENVIRONMENT", "development")
    if env.get("ENVIRONMENT") == "production":
        env["ENVIRONMENT"] = "development"
    return env

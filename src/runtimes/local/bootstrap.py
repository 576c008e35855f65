"""First start of a local state dir: make sure a newcomer has an admin token and a workspace key to try."""

from __future__ import annotations

import os
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path

from gateway.auth import generate_key
from gateway.store.workspaces import WorkspaceStore

ADMIN_TOKEN_FILE = "admin-token"


@dataclass
class Bootstrap:
    admin_token: str
    admin_token_generated: bool
    dev_key: str | None  # shown once, on the start that created it


def write_once(path: Path, value: str) -> tuple[str, bool]:
    """``(the file's value, whether this call created it)``: the first writer wins and every process reads the same
    value, even when several servers start on one state dir at once (the file appears whole, readable only by you)."""
    if path.exists():
        return path.read_text().strip(), False
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # created 0600
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(value + "\n")
        os.link(temp, path)  # atomic, and fails when another process got there first
    except FileExistsError:
        return path.read_text().strip(), False
    finally:
        os.unlink(temp)
    return value, True


def admin_token(state_dir: Path, env: dict[str, str]) -> tuple[str, bool]:
    if env.get("ADMIN_TOKEN"):
        return env["ADMIN_TOKEN"], False
    return write_once(state_dir / ADMIN_TOKEN_FILE, "adm_" + secrets.token_urlsafe(24))


async def ensure_dev_workspace(workspaces: WorkspaceStore) -> str | None:
    """Create a 'dev' workspace and a key when the store has no workspace yet; return the key (only then)."""
    if await workspaces.list():
        return None
    workspace = await workspaces.create("dev", None, {})
    key, prefix, key_hash = generate_key()
    await workspaces.add_key(workspace.id, prefix, key_hash, "dev")
    return key

"""First start of a local state dir: make sure a newcomer has an admin token and a workspace key to try."""

from __future__ import annotations

import secrets
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


def admin_token(state_dir: Path, env: dict[str, str]) -> tuple[str, bool]:
    if env.get("ADMIN_TOKEN"):
        return env["ADMIN_TOKEN"], False
    path = state_dir / ADMIN_TOKEN_FILE
    if path.exists():
        return path.read_text().strip(), False
    token = "adm_" + secrets.token_urlsafe(24)
    path.write_text(token + "\n")
    path.chmod(0o600)
    return token, True


async def ensure_dev_workspace(workspaces: WorkspaceStore) -> str | None:
    """Create a 'dev' workspace and a key when the store has no workspace yet; return the key (only then)."""
    if await workspaces.list():
        return None
    workspace = await workspaces.create("dev", None, {})
    key, prefix, key_hash = generate_key()
    await workspaces.add_key(workspace.id, prefix, key_hash, "dev")
    return key

"""Who is calling: a workspace API key or the admin token.

Keys look like ``vgw_<prefix>_<secret>`` with 32 random bytes of secret. Only their SHA-256 is stored, with the
prefix as a lookup index; candidates are compared in constant time. Lookups are cached briefly in the isolate so the
hot path does no database I/O; revoking through this process drops the cache entry at once.

Caveat on Workers: every isolate has its own cache, and a revocation handled by one isolate cannot reach the others'
memory. There a revoked key keeps working in other isolates until their cached lookup expires, so the Workers wiring
caps the cache at ``gateway.limits.wiring.MULTI_ISOLATE_KEY_CACHE_SECONDS`` (5 s) unless ``KEY_CACHE_SECONDS`` is set
explicitly (``0``-like small values trade a D1 read per request for immediate revocation everywhere).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from gateway.cache import TtlCache
from gateway.errors import Forbidden, Unauthorized
from gateway.ports import Clock
from gateway.store.workspaces import WorkspaceStore

KEY_PREFIX = "vgw"
_PREFIX_LEN = 8


@dataclass(frozen=True)
class Principal:
    workspace_id: str | None  # None for the admin
    key_id: str | None
    is_admin: bool = False


ADMIN = Principal(workspace_id=None, key_id=None, is_admin=True)


def generate_key() -> tuple[str, str, str]:
    """(full key shown once, lookup prefix, stored hash)."""
    prefix = secrets.token_hex(_PREFIX_LEN // 2)
    key = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    return key, prefix, hash_key(key)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _prefix_of(key: str) -> str | None:
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX or len(parts[1]) != _PREFIX_LEN:
        return None
    return parts[1]


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


class Authenticator:
    def __init__(self, workspaces: WorkspaceStore, admin_token: str | None, clock: Clock, cache_seconds: float) -> None:
        self.workspaces = workspaces
        self.admin_token = admin_token
        # key hash → (the principal, or None when refused; the workspace the key belongs to, refused or not). A
        # refusal remembers its workspace so that reactivating the workspace forgets it at once (a refused lookup
        # cached as a bare None would lock the workspace's keys out until the entry expired).
        self._cache: TtlCache[str, tuple[Principal | None, str | None]] = TtlCache(clock, cache_seconds)

    @property
    def cache_seconds(self) -> float:
        return self._cache.seconds

    def is_admin_token(self, token: str) -> bool:
        return bool(self.admin_token) and hmac.compare_digest(token.encode(), self.admin_token.encode())  # type: ignore[union-attr]

    async def authenticate(self, token: str | None, *, allow_admin: bool = True) -> Principal:
        if token is None:
            raise Unauthorized("missing credentials: send 'Authorization: Bearer <key>'")
        if self.is_admin_token(token):
            if not allow_admin:
                raise Forbidden("the admin token cannot be used here; use a workspace key")
            return ADMIN
        principal = await self._lookup(token)
        if principal is None:
            raise Unauthorized("invalid or revoked API key")
        return principal

    async def _lookup(self, key: str) -> Principal | None:
        digest = hash_key(key)
        principal, _ = await self._cache.get_or_load(digest, lambda: self._find(key, digest))
        return principal

    async def _find(self, key: str, digest: str) -> tuple[Principal | None, str | None]:
        prefix = _prefix_of(key)
        if prefix is not None:
            for record in await self.workspaces.keys_with_prefix(prefix):
                if hmac.compare_digest(record.key_hash, digest):
                    if record.revoked_at is None and record.workspace_status == "active":
                        return Principal(workspace_id=record.workspace_id, key_id=record.id), record.workspace_id
                    return None, record.workspace_id
        return None, None

    def forget(self, key_hash: str) -> None:
        self._cache.pop(key_hash)

    def forget_workspace(self, workspace_id: str) -> None:
        for digest, (_, owner) in self._cache.items():
            if owner == workspace_id:
                self._cache.pop(digest)

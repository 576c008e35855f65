"""Cache policy: per workspace (admin API, table ``workspace_speech_cache``) and per request (``Cache-Control``).

A workspace's cache is off until an admin turns it on: cached audio is the workspace's text, kept beyond the request,
and that is the workspace's decision. The shared scope is a second opt-in: a workspace that allows it may mark a
request ``X-Cache-Scope: shared`` (public prompts: greetings, IVR menus) to use, and fill, the pool every such
workspace shares. Everything else stays in the workspace's own scope (a cross-tenant hit would leak private text
through timing).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from gateway.ports import Clock, Database

DEFAULT_TTL_SECONDS = 7 * 24 * 3600
MAX_TTL_SECONDS = 365 * 24 * 3600


@dataclass(frozen=True)
class CachePolicy:
    enabled: bool = False
    ttl_seconds: int = DEFAULT_TTL_SECONDS
    allow_shared: bool = False
    # What a hit costs the workspace: USD per 1M characters served from the cache (no markup on top).
    price_per_million_chars: Decimal = Decimal(0)

    def to_json(self) -> dict[str, Any]:
        return {
            "enabled": self.enabled,
            "ttlSeconds": self.ttl_seconds,
            "allowShared": self.allow_shared,
            "pricePerMillionCharacters": str(self.price_per_million_chars),
        }

    @classmethod
    def from_row(cls, row: Mapping[str, Any] | None) -> CachePolicy:
        if row is None:
            return cls()
        return cls(
            enabled=bool(row["enabled"]),
            ttl_seconds=int(row["ttl_seconds"]),
            allow_shared=bool(row["allow_shared"]),
            price_per_million_chars=Decimal(str(row["price_per_million_chars"])),
        )


@dataclass(frozen=True)
class Directives:
    """What the client asked for in ``Cache-Control``: ``no-cache`` skips the lookup (the fresh audio is still
    stored), ``no-store`` skips both; and which scope (``X-Cache-Scope``)."""

    lookup: bool = True
    store: bool = True
    shared: bool = False

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> Directives:
        tokens = {t.strip().split("=")[0].lower() for t in (headers.get("cache-control") or "").split(",")}
        no_store = "no-store" in tokens
        return cls(
            lookup=not (no_store or "no-cache" in tokens),
            store=not no_store,
            shared=(headers.get("x-cache-scope") or "").strip().lower() == "shared",
        )


class CachePolicyStore:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def get(self, workspace_id: str) -> CachePolicy:
        row = await self.db.first("SELECT * FROM workspace_speech_cache WHERE workspace_id = ?", workspace_id)
        return CachePolicy.from_row(row)

    async def put(self, workspace_id: str, policy: CachePolicy) -> CachePolicy:
        await self.db.run(
            "INSERT INTO workspace_speech_cache (workspace_id, enabled, ttl_seconds, allow_shared,"
            " price_per_million_chars, updated_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(workspace_id) DO UPDATE SET"
            " enabled = excluded.enabled, ttl_seconds = excluded.ttl_seconds, allow_shared = excluded.allow_shared,"
            " price_per_million_chars = excluded.price_per_million_chars, updated_at = excluded.updated_at",
            workspace_id, int(policy.enabled), policy.ttl_seconds, int(policy.allow_shared),
            str(policy.price_per_million_chars), int(self.clock.time() * 1000),
        )  # fmt: skip
        return policy

"""``gateway.ports.KeyValue`` over a Workers KV namespace (``env.KV``)."""

from __future__ import annotations

import math
from typing import Any

from .convert import to_python

# KV rejects an expirationTtl under 60 seconds. A shorter TTL from the core means "cache briefly", so keeping the
# value a little longer is the closest valid behaviour (failing the write would lose the cache entry entirely).
KV_MIN_TTL_SECONDS = 60


class WorkersKV:
    def __init__(self, binding: Any) -> None:
        self._kv = binding

    async def get(self, key: str) -> str | None:
        value = to_python(await self._kv.get(key))
        return None if value is None else str(value)

    async def put(self, key: str, value: str, ttl_seconds: int | None = None) -> None:
        if ttl_seconds is None:
            await self._kv.put(key, value)
        else:
            await self._kv.put(key, value, expirationTtl=max(KV_MIN_TTL_SECONDS, math.ceil(ttl_seconds)))

    async def delete(self, key: str) -> None:
        await self._kv.delete(key)

    async def list(self, prefix: str = "") -> list[str]:
        """All key names under the prefix; KV pages at 1000 keys, so follow the cursor to the end."""
        names: list[str] = []
        cursor: str | None = None
        while True:
            options: dict[str, Any] = {"prefix": prefix} if prefix else {}
            if cursor:
                options["cursor"] = cursor
            page = to_python(await self._kv.list(**options)) or {}
            names.extend(str(entry["name"]) for entry in page.get("keys") or [])
            cursor = page.get("cursor")
            if page.get("list_complete", True) or not cursor:
                return names

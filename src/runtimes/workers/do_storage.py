"""The small ``get``/``put`` storage the core's Durable Object logic uses, over ``ctx.storage``.

Values are stored as JSON text rather than structured-cloned JS objects: they read back exactly as written (a JS
number has no int/float distinction, and nested nulls would otherwise come back as ``jsnull``).
"""

from __future__ import annotations

import json
from typing import Any

from .convert import to_python


class DurableObjectStorage:
    def __init__(self, storage: Any) -> None:
        self._storage = storage

    async def get(self, key: str) -> Any | None:
        raw = to_python(await self._storage.get(key))
        return None if raw is None else json.loads(raw)

    async def put(self, key: str, value: Any) -> None:
        await self._storage.put(key, json.dumps(value, separators=(",", ":")))

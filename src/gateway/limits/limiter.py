"""``WorkspaceLimiter``: the authority for one workspace, as the ``WorkspaceLimiter`` Durable Object runs it.

``src/limits_do.py`` builds ``WorkspaceLimiter(storage, clock)`` over the object's storage and relays two RPC
methods unchanged:

``acquire(request) -> grant``
    ``request`` as :meth:`gateway.limits.ledger.Ledger.acquire` documents (all JSON; ``returning`` gives back the
    isolate's previous lease in the same round trip). ``grant`` is
    ``{"ok": true, "lease": {"id", "keyId", "period", "permits", "budgetMicros", "audioMs", "slots", "permitTtl",
    "holdUntil"}, "reason": null, "retryAfter": null, "message": null}`` or ``{"ok": false, "lease": null,
    "reason": "rate"|"concurrency"|"budget"|"audio", "retryAfter": seconds, "message": str}``.
``release(lease) -> None``
    ``{"id", "unusedPermits", "spentMicros", "audioMs", "period"}``: what the isolate did with the lease.

The Durable Object runs one event at a time and storage calls hold its input gate, so loading the ledger, deciding
and storing it again cannot interleave with another request: the grant is atomic, and the sum of everything granted
never exceeds the limits.
"""

from __future__ import annotations

from typing import Any, Protocol

from gateway.limits.ledger import Grant, Ledger
from gateway.ports import Clock

STORAGE_KEY = "ledger"


class Storage(Protocol):
    async def get(self, key: str) -> Any | None: ...

    async def put(self, key: str, value: Any) -> None: ...


class WorkspaceLimiter:
    def __init__(self, storage: Storage, clock: Clock) -> None:
        self.storage = storage
        self.clock = clock
        self._ledger: Ledger | None = None

    async def _load(self) -> Ledger:
        if self._ledger is None:
            stored = await self.storage.get(STORAGE_KEY)
            if self._ledger is None:  # another event may have loaded it while we waited
                self._ledger = Ledger.from_json(stored) if stored else Ledger()
        return self._ledger

    async def acquire(self, request: dict[str, Any]) -> Grant:
        ledger = await self._load()
        grant = ledger.acquire(self.clock.time(), request)
        await self.storage.put(STORAGE_KEY, ledger.to_json())  # a refusal may still have opened a month or reclaimed
        return grant

    async def release(self, lease: dict[str, Any]) -> None:
        ledger = await self._load()
        ledger.release(
            str(lease["id"]),
            int(lease.get("unusedPermits") or 0),
            int(lease.get("spentMicros") or 0),
            int(lease.get("audioMs") or 0),
            lease.get("period"),
        )
        await self.storage.put(STORAGE_KEY, ledger.to_json())

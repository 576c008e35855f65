"""``WorkspaceLimiter``: one Durable Object per workspace, serialising admission (rate, concurrency, budget).

Only delegation: the logic is ``gateway.limits.limiter.WorkspaceLimiter``; payloads are relayed unchanged.
"""

from __future__ import annotations

from typing import Any

from workers import DurableObject

# The core's logic, imported at module import: Workers snapshot the import phase, so the object's first event does
# not pay for it.
from gateway.limits.limiter import WorkspaceLimiter as Limiter
from gateway.ports import SystemClock
from runtimes.workers.convert import to_python
from runtimes.workers.do_storage import DurableObjectStorage


class WorkspaceLimiter(DurableObject):
    def __init__(self, ctx: Any, env: Any) -> None:
        super().__init__(ctx, env)
        self.limiter = Limiter(DurableObjectStorage(ctx.storage), SystemClock())

    async def acquire(self, request: Any) -> dict[str, Any]:
        return await self.limiter.acquire(to_python(request))

    async def release(self, lease: Any) -> None:
        await self.limiter.release(to_python(lease))

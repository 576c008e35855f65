"""``WorkspaceLimiter``: one Durable Object per workspace, serialising admission (rate, concurrency, budget).

Only delegation: the logic is ``gateway.limits.limiter.WorkspaceLimiter``; payloads are relayed unchanged.
"""

from __future__ import annotations

from typing import Any

from workers import DurableObject

from runtimes.workers.convert import to_python
from runtimes.workers.do_storage import DurableObjectStorage


class WorkspaceLimiter(DurableObject):
    def __init__(self, ctx: Any, env: Any) -> None:
        super().__init__(ctx, env)
        from gateway.limits.limiter import WorkspaceLimiter as Limiter  # the core's logic, imported lazily

        from gateway.ports import SystemClock

        self.limiter = Limiter(DurableObjectStorage(ctx.storage), SystemClock())

    async def acquire(self, request: Any) -> dict[str, Any]:
        return await self.limiter.acquire(to_python(request))

    async def release(self, lease: Any) -> None:
        await self.limiter.release(to_python(lease))

"""``gateway.ports.BackgroundTasks`` on Workers: work after the response, kept alive by ``ctx.waitUntil``.

An isolate serves many requests; the runtime (and this object) is shared by all of them, so the current request's
``ctx`` lives in a context variable that ``entry.Default.fetch`` sets. asyncio copies context into every task, so work
spawned from inside the app (or from other background work) still finds the request it belongs to.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from contextvars import ContextVar
from typing import Any

log = logging.getLogger("gateway.workers.tasks")

current_ctx: ContextVar[Any | None] = ContextVar("workers_execution_context", default=None)


class WorkersBackgroundTasks:
    def __init__(self) -> None:
        self._pending: set[asyncio.Future[Any]] = set()

    def spawn(self, work: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(work)
        self._pending.add(task)
        task.add_done_callback(self._finished)
        ctx = current_ctx.get()
        if ctx is not None:
            # Without this the isolate may be frozen as soon as the response is sent, silently dropping the work.
            ctx.waitUntil(task)
        else:
            log.debug("background task spawned outside a request; it runs only while the isolate is busy")

    def _finished(self, task: asyncio.Future[Any]) -> None:
        self._pending.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task failed", exc_info=task.exception())

    async def drain(self) -> None:
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

"""After-response work on the local runtime: tracked asyncio tasks (the local twin of ``ctx.waitUntil``)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any

log = logging.getLogger("gateway.tasks")


class LocalBackgroundTasks:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Future[Any]] = set()

    def spawn(self, work: Awaitable[Any]) -> None:
        """Start ``work`` on the running loop; a failure is logged, never raised to the caller."""
        task = asyncio.ensure_future(work, loop=asyncio.get_running_loop())
        self._tasks.add(task)  # a strong reference until done: the loop itself only keeps weak ones
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Future[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        error = task.exception()  # retrieving it also keeps asyncio from logging "exception was never retrieved"
        if error is not None:
            log.error("background task failed: %s", type(error).__name__, exc_info=error)

    @property
    def pending(self) -> int:
        return len(self._tasks)

    async def drain(self) -> None:
        """Wait until nothing spawned is running, including work spawned while draining."""
        current = asyncio.current_task()
        while waiting := [t for t in self._tasks if t is not current]:  # a spawned task may drain without deadlock
            await asyncio.wait(waiting)

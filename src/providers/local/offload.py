"""Run a blocking engine call in a worker thread so the event loop keeps serving while it works.

Both engines are CPU-bound C code. ``asyncio.to_thread`` cannot stop a thread, so each call gets a
``threading.Event`` that is set as soon as the caller stops waiting (timeout, cancelled request); the engines check
it between chunks and give up, instead of holding their lock for work nobody will read.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


async def run_blocking(fn: Callable[..., T], *args: Any, timeout: float) -> T:
    """``fn(*args, cancel_event)`` in a thread; TimeoutError after ``timeout`` seconds."""
    cancel = threading.Event()
    try:
        return await asyncio.wait_for(asyncio.to_thread(fn, *args, cancel), timeout)
    finally:
        cancel.set()  # whichever way we leave, the engine must not keep working for us

"""Run a blocking call (espeak-ng, audio decoding) in a worker thread so the event loop keeps serving meanwhile.

These calls are C code that releases the GIL (ctypes, cffi). ``asyncio.to_thread`` cannot stop a thread, so each
call gets a ``threading.Event`` that is set as soon as the caller stops waiting (timeout, cancelled request);
espeak-ng checks it between audio chunks and aborts instead of holding its lock for speech nobody will hear.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


async def run_blocking(fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args, cancel_event)`` in a thread."""
    cancel = threading.Event()
    try:
        return await asyncio.to_thread(fn, *args, cancel)
    finally:
        cancel.set()  # whichever way we leave, the engine must not keep working for us

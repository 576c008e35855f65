"""The request log's stdout lines, written in batches.

One JSON line per request is one ``write`` system call when stdout is unbuffered (``PYTHONUNBUFFERED=1``, the norm in
containers): about a twentieth of the gateway's CPU per request on bench/overhead. Lines are gathered and written
together at most ``FLUSH_SECONDS`` later (and at shutdown). A ``kill -9`` can lose the last fraction of a second of
these lines — the request log's rows in the database are durable with the usage rows; stdout is the tail-able copy.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from typing import TextIO

FLUSH_SECONDS = 0.05
MAX_PENDING = 512  # lines: written at once past this, whatever the timer says


class BatchedLines:
    """``out`` gives the stream at each write (stdout by default, looked up then: it may have been replaced)."""

    def __init__(self, out: Callable[[], TextIO] = lambda: sys.stdout) -> None:
        self._out = out
        self._pending: list[str] = []
        self._timer: asyncio.TimerHandle | None = None

    def write(self, line: str) -> None:
        self._pending.append(line)
        if len(self._pending) >= MAX_PENDING:
            self.flush()
        elif self._timer is None:
            try:
                self._timer = asyncio.get_running_loop().call_later(FLUSH_SECONDS, self.flush)
            except RuntimeError:  # no event loop (a synchronous caller): nothing would flush later
                self.flush()

    def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._pending:
            text = "\n".join(self._pending) + "\n"
            self._pending.clear()
            out = self._out()
            out.write(text)
            out.flush()

"""One realtime recognition session: a ``live_worker`` process behind the relay's ``UpstreamWebSocket`` interface,
so the built-in recognizer is one more realtime leg to the relay — failover, replay and billing work unchanged.

Starting a worker (Python, numpy, two PocketSphinx decoders) takes about a second, so one loaded spare waits for
the next session once realtime has been used: only the first session of a server process pays the start-up.

Sessions are bounded per server process (``LOCAL_REALTIME_SESSIONS``, default: the CPU count — each session's
decoding takes about a fifth of a core, the final decode of a turn a burst of a whole one). A session over the
bound is refused as ``RATE_LIMITED`` ("try again later"), which the relay reports with close code 1013.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import struct
import sys
import weakref

from gateway.errors import ErrorClass, ProviderError
from gateway.ports import UpstreamClosed

PROVIDER = "local"
SESSIONS_ENV = "LOCAL_REALTIME_SESSIONS"
CLOSE_STREAM = "CloseStream"


class SessionLimit:
    """How many sessions run now, against the configured bound (all on one event loop: no lock needed)."""

    def __init__(self) -> None:
        self.active = 0

    def acquire(self, limit: int) -> None:
        if self.active >= limit:
            raise ProviderError(PROVIDER, ErrorClass.RATE_LIMITED,
                                f"the built-in recognizer is serving its limit of {limit} concurrent sessions "
                                f"({SESSIONS_ENV}); try again later")  # fmt: skip
        self.active += 1

    def release(self) -> None:
        self.active = max(0, self.active - 1)


SESSIONS = SessionLimit()


def session_limit(configured: str | None) -> int:
    try:
        value = int(configured) if configured else 0
    except ValueError:
        value = 0
    return value if value > 0 else (os.cpu_count() or 1)


class LiveSocket:
    """The worker process as an upstream socket: audio frames in, JSON event lines out."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self._proc = proc
        self._closing = False
        self._released = False

    @property
    def pid(self) -> int:
        return self._proc.pid

    async def send_bytes(self, data: bytes) -> None:
        await self._write(struct.pack(">I", len(data)) + data if data else b"")

    async def send_text(self, data: str) -> None:
        with contextlib.suppress(ValueError):
            if json.loads(data).get("type") == CLOSE_STREAM:
                self._closing = True
                await self._write(struct.pack(">I", 0))
        # anything else (the relay's KeepAlive) means nothing to a local process

    async def receive(self) -> str:
        assert self._proc.stdout is not None
        line = await self._proc.stdout.readline()
        if not line:
            code = await self._proc.wait()
            if self._closing and code == 0:
                raise UpstreamClosed(1000, "")
            raise UpstreamClosed(1011, f"the built-in recognizer exited ({code})")
        return line.decode()

    async def close(self, code: int = 1000) -> None:
        try:
            if self._proc.stdin is not None and not self._proc.stdin.is_closing():
                self._proc.stdin.close()
            try:
                await asyncio.wait_for(self._proc.wait(), 2)
            except TimeoutError:
                self._proc.kill()
                await self._proc.wait()
        except ProcessLookupError:
            pass
        finally:
            if not self._released:
                self._released = True
                SESSIONS.release()

    async def _write(self, data: bytes) -> None:
        stdin = self._proc.stdin
        if stdin is None or stdin.is_closing():
            raise UpstreamClosed(1011, "the built-in recognizer is gone")
        try:
            stdin.write(data)
            await stdin.drain()
        except (BrokenPipeError, ConnectionResetError) as exc:
            raise UpstreamClosed(1011, f"the built-in recognizer is gone ({type(exc).__name__})") from None


async def _start_worker() -> asyncio.subprocess.Process:
    """A worker that has loaded its models (answered ``ready``)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "providers.local.live_worker",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL, env=env,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = await proc.stdout.readline()
        message = json.loads(line) if line else {"message": "the built-in recognizer exited while loading"}
        if message.get("type") != "ready":
            raise ProviderError(PROVIDER, ErrorClass.SERVER, str(message.get("message") or "recognizer failed")[:300])
        return proc
    except BaseException:
        await _discard(proc)
        raise


async def _discard(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.kill()
        with contextlib.suppress(Exception):
            await proc.wait()


class _Spare:
    """One worker starting or loaded, waiting for the next session (per event loop: subprocesses belong to one)."""

    def __init__(self) -> None:
        self.task: asyncio.Task[asyncio.subprocess.Process] | None = None

    def take(self) -> asyncio.Task[asyncio.subprocess.Process]:
        task = self.task if self.task is not None and not self.task.cancelled() else None
        if task is not None and task.done() and (task.exception() or task.result().returncode is not None):
            task = None  # it failed to load or died while waiting: start afresh
        self.task = asyncio.ensure_future(_start_worker())  # the next session's
        return task or asyncio.ensure_future(_start_worker())


_spares: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Spare] = weakref.WeakKeyDictionary()


async def open_session(sample_rate: int, limit: int, timeout: float) -> LiveSocket:
    """A loaded worker for a session at ``sample_rate``, counted against ``limit``."""
    SESSIONS.acquire(limit)
    loop = asyncio.get_running_loop()
    starting = _spares.setdefault(loop, _Spare()).take()
    try:
        proc = await asyncio.wait_for(asyncio.shield(starting), timeout)
        assert proc.stdin is not None
        proc.stdin.write(struct.pack(">I", sample_rate))
        await proc.stdin.drain()
        return LiveSocket(proc)
    except BaseException as exc:
        starting.add_done_callback(lambda t: t.cancelled() or t.exception() or _kill_later(t.result()))
        SESSIONS.release()
        if isinstance(exc, TimeoutError):
            raise ProviderError(
                PROVIDER, ErrorClass.TIMEOUT, f"the built-in recognizer took over {timeout:g}s to load"
            ) from None
        if isinstance(exc, (BrokenPipeError, ConnectionResetError)):
            raise ProviderError(PROVIDER, ErrorClass.SERVER, "the built-in recognizer exited") from None
        raise


def _kill_later(proc: asyncio.subprocess.Process) -> None:
    asyncio.ensure_future(_discard(proc))

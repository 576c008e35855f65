"""PocketSphinx in a worker process, so recognition never stalls the server's event loop.

The pocketsphinx binding holds the GIL while it decodes (measured: a 5 s utterance froze a 5 ms asyncio ticker for
0.55 s at a time, most of it in the second-pass search at ``end_utt``), so a thread would not keep the server
responsive. One child process (``python -m providers.local.sphinx_worker``) keeps its decoder loaded between jobs and
speaks a tiny protocol over its pipes: 4-byte big-endian length + 16 kHz PCM in, one JSON line out. A plain
subprocess rather than ``multiprocessing``: spawning through multiprocessing re-imports the parent's ``__main__``,
which breaks any embedding script without a ``__main__`` guard.

Jobs run one at a time (a lock). A caller that stops waiting kills the worker if its job is the one running —
the only way to stop PocketSphinx mid-utterance — and the next job starts a fresh worker (about a second).
"""

from __future__ import annotations

import asyncio
import atexit
import json
import os
import struct
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from providers.local.errors import Cancelled, EngineError
from providers.local.stt import LOAD_ONLY, RecognizedWord

LOCK_POLL_SECONDS = 0.05


@contextmanager
def _held(lock: threading.Lock) -> Iterator[None]:
    """Release an already acquired ``lock`` on the way out."""
    try:
        yield
    finally:
        lock.release()


class SphinxProcess:
    def __init__(self) -> None:
        self._lock = threading.Lock()  # one job at a time
        self._state = threading.Lock()  # guards _proc/_running between the job thread and the event loop
        self._proc: subprocess.Popen[bytes] | None = None
        self._running: threading.Event | None = None  # the cancel event of the job in the worker now
        atexit.register(self.close)

    async def load(self) -> None:
        await self._submit(None)

    async def recognize(self, pcm: bytes) -> list[RecognizedWord]:
        """Words in 16 kHz mono 16-bit little-endian ``pcm``."""
        return await self._submit(pcm)

    def close(self) -> None:
        with self._state:
            proc, self._proc = self._proc, None
        if proc is not None:
            _stop(proc)

    # -- one job -------------------------------------------------------------------------------------------------
    async def _submit(self, pcm: bytes | None) -> list[RecognizedWord]:
        cancel = threading.Event()
        try:
            return await asyncio.to_thread(self._job, pcm, cancel)
        finally:
            cancel.set()
            with self._state:
                abandoned = self._running is cancel  # still running in the worker: nobody will read the answer
                proc = self._proc if abandoned else None
            if proc is not None:
                proc.kill()

    def _job(self, pcm: bytes | None, cancel: threading.Event) -> list[RecognizedWord]:
        # Wait for the engine in short slices: a caller that gave up (its deadline passed behind a long job) frees
        # its worker thread at once instead of holding one of the loop's few executor threads until the lock frees.
        while not self._lock.acquire(timeout=LOCK_POLL_SECONDS):
            if cancel.is_set():
                raise Cancelled()
        with _held(self._lock):
            if cancel.is_set():
                raise Cancelled()
            proc = self._worker()
            with self._state:
                self._running = cancel
            try:
                line = _exchange(proc, pcm)
            finally:
                with self._state:
                    self._running = None
            if not line:
                self._discard(proc)
                if cancel.is_set():
                    raise Cancelled()
                raise EngineError("the PocketSphinx worker process exited unexpectedly")
        reply = json.loads(line)
        if "error" in reply:
            raise EngineError(reply["error"])
        return [RecognizedWord(*word) for word in reply["words"]]

    def _worker(self) -> subprocess.Popen[bytes]:
        with self._state:
            if self._proc is not None and self._proc.poll() is None:
                return self._proc
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        proc = subprocess.Popen(
            [sys.executable, "-m", "providers.local.sphinx_worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        with self._state:
            self._proc = proc
        return proc

    def _discard(self, proc: subprocess.Popen[bytes]) -> None:
        with self._state:
            if self._proc is proc:
                self._proc = None
        _stop(proc)


def _exchange(proc: subprocess.Popen[bytes], pcm: bytes | None) -> bytes:
    """Send one job, read its one-line answer (b"" when the worker died or was killed)."""
    assert proc.stdin is not None and proc.stdout is not None
    try:
        if pcm is None:
            proc.stdin.write(struct.pack(">I", LOAD_ONLY))
        else:
            proc.stdin.write(struct.pack(">I", len(pcm)) + pcm)
        proc.stdin.flush()
        return proc.stdout.readline()
    except (BrokenPipeError, ValueError, OSError):
        return b""


def _stop(proc: subprocess.Popen[bytes]) -> None:
    for stream in (proc.stdin, proc.stdout):
        if stream is not None:
            stream.close()
    if proc.poll() is None:
        proc.kill()
    proc.wait()

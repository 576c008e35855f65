"""Run an ASGI app as a real HTTP/WebSocket server on 127.0.0.1, with fault injection shared by every vendor fake.

Each vendor fake (``tests/fakes/<vendor>.py``) is a Starlette app built by ``create_app(state)``; it calls
``await state.before_response(request_kind)`` first, which applies whatever fault the test queued, and renders errors
in its vendor's own error shape. Tests and benchmarks start fakes with :class:`FakeServer`.

Faults (``state.fail(...)`` queues one-shot faults, ``state.always(...)`` sets a standing one):
    Fault("hang")                      accept the request, never answer (a black hole)
    Fault("slow", delay=2.0)           answer after ``delay`` seconds (streams: pause ``delay`` between chunks)
    Fault("status", status=503)        the vendor's documented error body for that status
    Fault("status", status=429, retry_after="2")   …with a Retry-After header (None: without one)
    Fault("malformed")                 200 with a body that is not what the vendor documents
    Fault("cut")                       start a 200 body and drop the connection halfway
A stopped server (``server.stop()``) refuses connections: the "down" fault.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import uvicorn


@dataclass
class Fault:
    kind: str  # hang | slow | status | malformed | cut
    status: int = 500
    retry_after: str | None = None
    delay: float = 0.0
    body: Any = None  # an override for the error body (e.g. a specific vendor error code)
    after_chunks: int = 1  # for "cut": how many chunks to send before dropping the connection


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes


@dataclass
class FakeState:
    """Shared between the test thread and the server thread (simple reads/writes of Python objects)."""

    queued: deque[Fault] = field(default_factory=deque)
    standing: Fault | None = None
    requests: list[RecordedRequest] = field(default_factory=list)
    # Vendor-specific knobs a fake may read (e.g. the transcript to return, the audio duration).
    options: dict[str, Any] = field(default_factory=dict)

    def fail(self, *faults: Fault) -> None:
        self.queued.extend(faults)

    def always(self, fault: Fault | None) -> None:
        self.standing = fault

    def reset(self) -> None:
        self.queued.clear()
        self.standing = None
        self.requests.clear()
        self.options.clear()

    def take_fault(self) -> Fault | None:
        if self.queued:
            return self.queued.popleft()
        return self.standing

    async def record(self, request: Any) -> bytes:
        body = await request.body()
        self.requests.append(
            RecordedRequest(
                method=request.method,
                path=request.url.path,
                query=request.url.query,
                headers={k.lower(): v for k, v in request.headers.items()},
                body=body,
            )
        )
        return body

    async def before_response(self) -> Fault | None:
        """Apply timing faults here; return the fault for the fake to render (status/malformed/cut/slow)."""
        fault = self.take_fault()
        if fault is None:
            return None
        if fault.kind == "hang":
            await asyncio.sleep(3600)
        if fault.kind == "slow" and fault.delay:
            await asyncio.sleep(fault.delay)
        return fault


class CutConnection(Exception):
    """Raised by a fake's body iterator to drop the connection mid-body (uvicorn closes the socket)."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class FakeServer:
    """Serve ``app`` with uvicorn in a background thread. Usable as a context manager."""

    def __init__(self, app: Any, state: FakeState | None = None, port: int | None = None) -> None:
        self.app = app
        self.state = state or FakeState()
        self.port = port or free_port()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def start(self) -> FakeServer:
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off", ws="websockets-sansio"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        for _ in range(500):
            if self._server.started:
                return self
            if not self._thread.is_alive():
                break
            threading.Event().wait(0.01)
        raise RuntimeError(f"fake server on port {self.port} did not start")

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
            self._server.force_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

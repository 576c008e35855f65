"""What the request log costs per request: the hot-path part (the row, the stdout JSON line, the buffer append, the
time-to-first-byte metric — what ``RequestLogMiddleware`` does when a response ends) and the after-response part
(the row's share of a SQLite batch write, as the recorder flushes it).

    uv run python -m bench.request_log.run [--requests 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import time
from types import SimpleNamespace

from gateway.metrics import Metrics
from gateway.ports import SystemClock
from gateway.recorder import Recorder
from gateway.request_log import RequestLogMiddleware, RequestTrace
from runtimes.local.runtime import migrations_dir
from runtimes.local.sqlite_db import SQLiteDatabase
from runtimes.local.tasks import LocalBackgroundTasks


def _trace() -> RequestTrace:
    trace = RequestTrace(workspace_id="ws_0123456789abcdef01234567", api_key_id="key_0123456789abcdef01234567")
    trace.add_usage(provider="openai", resource="tts", cost_micros=630, characters=25, audio_seconds=None,
                    input_tokens=None, output_tokens=None)  # fmt: skip
    return trace


async def _through_middleware(middleware: RequestLogMiddleware, requests: int) -> float:
    """The same response (start with X-Provider/X-Attempts, one body chunk) sent through a bare ASGI app and through
    the middleware around it: the difference is what the middleware costs a request, send wrapper included."""
    route = SimpleNamespace(path="/voice/synthesize")
    headers = [(b"content-type", b"audio/mpeg"), (b"x-provider", b"openai"), (b"x-attempts", b"1")]
    start = {"type": "http.response.start", "status": 200, "headers": headers}
    body = {"type": "http.response.body", "body": b"\xff" * 512, "more_body": False}

    async def app(scope: dict, receive: object, send: object) -> None:  # type: ignore[type-arg]
        scope["route"] = route
        await send(start)  # type: ignore[operator]
        await send(body)  # type: ignore[operator]

    async def sink(message: dict) -> None:  # type: ignore[type-arg]
        pass

    middleware.app = app
    real_stdout, sys.stdout = sys.stdout, open(os.devnull, "w")  # noqa: SIM115
    try:
        timings = []
        for wrapped in (app, middleware):
            started = time.perf_counter()
            for i in range(requests):
                scope = {
                    "type": "http",
                    "method": "POST",
                    "path": "/voice/synthesize",
                    "state": {"request_id": f"m{i}"},
                }
                await wrapped(scope, None, sink)
            timings.append((time.perf_counter() - started) / requests)
    finally:
        sys.stdout.close()
        sys.stdout = real_stdout
    return timings[1] - timings[0]


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=20000)
    args = parser.parse_args()
    db = SQLiteDatabase(":memory:")
    await db.apply_migrations(migrations_dir())
    clock = SystemClock()
    tasks = LocalBackgroundTasks()
    recorder = Recorder(db, tasks, clock)
    route = SimpleNamespace(path="/voice/synthesize")
    results = {}
    for stdout in (False, True):
        gateway = SimpleNamespace(
            runtime=SimpleNamespace(env={"REQUEST_LOG_STDOUT": str(stdout).lower()}, clock=clock, tasks=tasks, db=db),
            metrics=Metrics(), recorder=recorder,
        )  # fmt: skip
        middleware = RequestLogMiddleware(None, gateway)
        middleware._next_prune = float("inf")
        real_stdout, sys.stdout = sys.stdout, open(os.devnull, "w")  # noqa: SIM115 - the line's cost, not a tty's
        try:
            started = time.perf_counter()
            for i in range(args.requests):
                scope = {"type": "http", "method": "POST", "route": route, "state": {"request_id": f"req_{stdout}_{i}"}}
                middleware._finish(scope, "http", _trace(), 1_796_000_000_000, 200, 0.012, 0.008, None)
            hot = (time.perf_counter() - started) / args.requests
        finally:
            sys.stdout.close()
            sys.stdout = real_stdout
        whole = await _through_middleware(middleware, args.requests)
        pending = recorder.pending  # the rows of both loops
        started = time.perf_counter()
        await recorder.flush()
        await tasks.drain()  # a scheduled flush may have taken some of the rows: wait for it too
        assert recorder.pending == 0 and pending == 2 * args.requests
        write = (time.perf_counter() - started) / pending
        results[stdout] = (hot, whole, write)
    await tasks.drain()
    await db.close()
    print(f"machine: {platform.machine()} {platform.python_version()}, {args.requests} requests per run")
    print("stdout line | end of request (_finish) | whole middleware, per request | batch write per row (after)")
    for stdout, (hot, whole, write) in results.items():
        print(
            f"{'on ' if stdout else 'off'}         | {hot * 1e6:20.1f} µs | {whole * 1e6:26.1f} µs |"
            f" {write * 1e6:14.1f} µs"
        )


if __name__ == "__main__":
    asyncio.run(main())

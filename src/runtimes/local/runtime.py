"""The local runtime: the same ports the Worker has, backed by SQLite (D1 is SQLite: the same migrations apply),
a SQLite-file KV, the health monitor in-process, and uvicorn-friendly background tasks."""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gateway.health.monitor import HealthMonitor, InProcessHealthService, MemoryStorage, run_alarm_loop
from gateway.ports import Runtime, SystemClock, UpstreamWebSocket, WebSocketOpener
from gateway.secrets_box import generate_secret
from gateway.speech_cache import STORE_EXTRA
from runtimes.local import startup
from runtimes.local.bootstrap import write_once
from runtimes.local.cipher import CryptographyCipher
from runtimes.local.config import PROJECT_ROOT, find_project_file
from runtimes.local.http_client import vendor_http_client
from runtimes.local.kv import SQLiteKV
from runtimes.local.log_lines import BatchedLines
from runtimes.local.speech_cache import DEFAULT_MAX_BYTES, LocalSpeechCacheStore
from runtimes.local.sqlite_db import SQLiteDatabase
from runtimes.local.tasks import LocalBackgroundTasks

log = logging.getLogger("gateway.local")
ACCEPTING = "local.accepting"  # Runtime.extras: an asyncio.Event set once the server accepts and has warmed up


def migrations_dir() -> Path:
    return find_project_file("migrations") or PROJECT_ROOT / "migrations"


def persistent_secret(state_dir: Path, name: str) -> str:
    """A secret generated once per state dir (so encrypted vendor keys survive restarts), readable only by you."""
    return write_once(state_dir / name, generate_secret())[0]


async def build_local_runtime(
    state_dir: Path | None, env: Mapping[str, str], *, probe_vendors: bool | None = None
) -> Runtime:
    """``state_dir`` None keeps everything in memory (tests). ``probe_vendors`` runs the periodic health alarm
    (active probes); by default it runs for a persistent state dir, i.e. the real local server."""
    if probe_vendors is None:
        probe_vendors = state_dir is not None
    env = dict(env)
    if state_dir is not None:
        state_dir.mkdir(parents=True, exist_ok=True)
        env.setdefault("KEY_ENCRYPTION_KEY", persistent_secret(state_dir, "key-encryption-key"))
        db = SQLiteDatabase(str(state_dir / "d1.sqlite"))
        kv = SQLiteKV(str(state_dir / "kv.sqlite"))
        speech_cache = LocalSpeechCacheStore(str(state_dir / "speech-cache.sqlite"), max_bytes=_cache_bytes(env))
    else:
        env.setdefault("KEY_ENCRYPTION_KEY", generate_secret())
        db = SQLiteDatabase(":memory:")
        kv = SQLiteKV(":memory:")
        speech_cache = LocalSpeechCacheStore(max_bytes=_cache_bytes(env))
    applied = await db.apply_migrations(migrations_dir())
    if applied:
        log.info("applied migrations: %s", ", ".join(applied))
    clock = SystemClock()
    log_lines = BatchedLines()
    http = vendor_http_client()
    monitor = HealthMonitor(MemoryStorage(), clock, db, http=http, env=env)
    runtime = Runtime(
        db=db,
        kv=kv,
        health=InProcessHealthService(monitor),
        http=http,
        tasks=LocalBackgroundTasks(),
        env=env,
        clock=clock,
        open_websocket=_websocket_opener(),
        # A usage row is committed before the client sees the end of the response it pays for (gateway.recorder).
        extras={STORE_EXTRA: speech_cache, "durable_rows_before_response": True},
        cipher=CryptographyCipher(),
        write_log_line=log_lines.write,
    )

    stop_alarms = asyncio.Event()
    accepting = runtime.extras[ACCEPTING] = asyncio.Event()
    if probe_vendors:  # the local twin of the Durable Object's alarm: active probes and history rows
        alarms = asyncio.ensure_future(_probe_once_accepting(accepting, monitor, clock, stop_alarms))
    else:
        alarms = None

    async def close() -> None:
        stop_alarms.set()
        if alarms is not None:
            alarms.cancel()
            await asyncio.gather(alarms, return_exceptions=True)
        await runtime.tasks.drain()
        await http.aclose()
        await kv.close()
        await speech_cache.close()
        await db.close()
        log_lines.flush()

    runtime.on_close.append(close)
    return runtime


async def _probe_once_accepting(
    accepting: asyncio.Event, monitor: HealthMonitor, clock: SystemClock, stop: asyncio.Event
) -> None:
    """The first probe imports the vendor adapters and the HTTP transport and makes a call per keyed vendor (about a
    tenth of a second of CPU): it waits until the server accepts and has warmed up, so the first 200 does not."""
    await accepting.wait()
    await run_alarm_loop(monitor, clock, stop)


def _cache_bytes(env: Mapping[str, str]) -> int:
    """``SPEECH_CACHE_MAX_BYTES``: the local speech cache's size limit (default 256 MiB)."""
    try:
        return int(env.get("SPEECH_CACHE_MAX_BYTES") or DEFAULT_MAX_BYTES)
    except ValueError:
        return DEFAULT_MAX_BYTES


def _websocket_opener() -> WebSocketOpener | None:
    """The ``websockets`` client, imported on the first upstream WebSocket (or by ``warm_up``), not at start."""
    if importlib.util.find_spec("websockets") is None:
        return None

    async def open_websocket(url: str, headers: Mapping[str, str], timeout: float) -> UpstreamWebSocket:
        from runtimes.local.websocket import open_websocket as opener

        return await opener(url, headers, timeout)

    return open_websocket


def warm_up() -> None:
    """Import what the first vendor call, WebSocket (either side) or sealed key would otherwise import (a few tenths
    of a second together). Servers run it in a thread once they are accepting, so start-up does not wait for it."""
    from runtimes.local import http_client

    http_client.warm_up()
    modules = (
        "runtimes.local.websocket",
        "uvicorn.protocols.websockets.websockets_sansio_impl",  # the server's side (runtimes.local.cli)
        "cryptography.hazmat.primitives.ciphers.aead",
    )
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError:
            pass


async def warm_up_when_started(server: Any, runtime: Runtime) -> None:
    """``warm_up`` once ``server`` (a ``uvicorn.Server``) has started accepting; the start-up is over then
    (``runtimes.local.startup.accepting``). Then the health probes start (``_probe_once_accepting``)."""
    while not server.started and not server.should_exit:
        await asyncio.sleep(0.05)
    startup.accepting()
    if server.started:
        try:
            await asyncio.to_thread(warm_up)
        finally:
            runtime.extras[ACCEPTING].set()

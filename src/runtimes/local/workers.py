"""``voice-gateway dev --workers N``: N server processes on one port, with limits exact across them.

The supervisor (this process) does everything that must happen once, before any worker starts: the state dir's
secrets, the migrations, the first start's 'dev' workspace and the banner. It reserves the port and hands it to
every worker (each listens on its own SO_REUSEPORT socket; the kernel spreads connections), and it is the limits
authority (:mod:`runtimes.local.shared_limits`). The workers are ordinary local servers otherwise.

What runs once, not N times: worker 0 alone runs the periodic jobs — active vendor health probes and the agent-call
reconciliation pass. Pruning (request log, rate admissions) runs in every worker: it is an idempotent ``DELETE``.
Per process, documented: passive health (breakers, 429 cool-downs learned from traffic), the key cache and
``LOCAL_REALTIME_SESSIONS`` (each worker bounds its own realtime sessions).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import tempfile
from pathlib import Path

from runtimes.local.bootstrap import admin_token, ensure_dev_workspace

STOP_SECONDS = 15.0  # a worker that has not stopped this long after SIGTERM is killed
BACKLOG = 2048
# Each worker listens on its own SO_REUSEPORT socket and the kernel spreads new connections evenly over them. (One
# shared listening socket works everywhere, but whichever worker wakes first accepts a whole burst: measured, one of
# two workers took most of 300 connections.)
REUSE_PORT = hasattr(socket, "SO_REUSEPORT")


def _port_socket(host: str, port: int) -> socket.socket:
    """The supervisor's socket: it reserves the port (``port`` 0 picks one) for the workers' SO_REUSEPORT sockets
    and never listens itself; without SO_REUSEPORT it is the listening socket every worker shares."""
    if not REUSE_PORT:
        listener = socket.create_server((host, port), backlog=BACKLOG)
    else:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        listener = socket.socket(family, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        listener.bind((host, port))
    listener.set_inheritable(True)
    return listener


def _worker_socket(fd: int) -> socket.socket:
    inherited = socket.socket(fileno=fd)
    if not REUSE_PORT:
        return inherited
    own = socket.socket(inherited.family, socket.SOCK_STREAM)
    own.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    own.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    own.bind(inherited.getsockname()[:2])
    own.listen(BACKLOG)
    inherited.close()
    return own


async def _first_start(state_dir: Path, env: dict[str, str]) -> tuple[str | None, str | None]:
    """Secrets, migrations and the 'dev' workspace, once: ``(new admin token, new dev key)``."""
    from gateway.ports import SystemClock
    from gateway.store.workspaces import WorkspaceStore
    from runtimes.local.kv import SQLiteKV
    from runtimes.local.runtime import migrations_dir, persistent_secret
    from runtimes.local.speech_cache import LocalSpeechCacheStore
    from runtimes.local.sqlite_db import SQLiteDatabase

    token, generated = admin_token(state_dir, env)
    persistent_secret(state_dir, "key-encryption-key")
    db = SQLiteDatabase(str(state_dir / "d1.sqlite"))
    try:
        await db.apply_migrations(migrations_dir())
        dev_key = await ensure_dev_workspace(WorkspaceStore(db, SystemClock()))
    finally:
        await db.close()
    # Create the other files (WAL mode, tables) here too, so no two workers race to set them up.
    await SQLiteKV(str(state_dir / "kv.sqlite")).close()
    await LocalSpeechCacheStore(str(state_dir / "speech-cache.sqlite")).close()
    return (token if generated else None), dev_key


async def supervise(host: str, port: int, state_dir: Path, log_level: str, workers: int) -> int:
    from gateway.limits.local import InProcessLimits
    from gateway.ports import SystemClock
    from gateway.store.usage import UsageStore
    from runtimes.local.cli import print_banner
    from runtimes.local.config import load_env
    from runtimes.local.shared_limits import LimitsAuthority
    from runtimes.local.sqlite_db import SQLiteDatabase

    env = load_env()
    state_dir.mkdir(parents=True, exist_ok=True)
    new_token, dev_key = await _first_start(state_dir, env)

    db = SQLiteDatabase(str(state_dir / "d1.sqlite"))  # the authority's baselines and restored windows
    authority = LimitsAuthority(InProcessLimits(UsageStore(db), SystemClock(), restore=True))
    socket_dir = tempfile.mkdtemp(prefix="vgw-")  # a short path: Unix socket paths are limited to ~100 bytes
    limits_socket = os.path.join(socket_dir, "limits.sock")
    server = await authority.serve(limits_socket)
    listener = _port_socket(host, port)
    bound_port = listener.getsockname()[1]
    processes = []
    try:
        for index in range(workers):
            args = ["-m", "runtimes.local.cli", "worker", "--fd", str(listener.fileno()), "--index", str(index),
                    "--limits-socket", limits_socket, "--state-dir", str(state_dir), "--log-level", log_level]  # fmt: skip
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                *args,
                pass_fds=(listener.fileno(),),
                start_new_session=True,  # a terminal's Ctrl-C reaches the supervisor, which stops them once
            )
            processes.append(process)
        if not REUSE_PORT:
            listener.close()  # the workers hold the shared socket now
        print_banner(f"http://{host}:{bound_port}", state_dir, new_token, dev_key, workers)
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stopping.set)
        exited = [asyncio.ensure_future(p.wait()) for p in processes]
        stop = asyncio.ensure_future(stopping.wait())
        await asyncio.wait([*exited, stop], return_when=asyncio.FIRST_COMPLETED)  # a signal, or a worker died
        stop.cancel()
        return await _stop(processes)
    finally:
        for process in processes:
            if process.returncode is None:
                process.kill()
                await process.wait()
        listener.close()
        server.close()
        await server.wait_closed()
        await db.close()
        with contextlib.suppress(OSError):
            os.unlink(limits_socket)
            os.rmdir(socket_dir)


async def _stop(processes: list[asyncio.subprocess.Process]) -> int:
    for process in processes:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
    try:
        codes = await asyncio.wait_for(asyncio.gather(*(p.wait() for p in processes)), STOP_SECONDS)
    except TimeoutError:
        return 1
    return 0 if all(code in (0, -signal.SIGTERM) for code in codes) else 1


async def serve_worker(fd: int, index: int, limits_socket: str, state_dir: Path, log_level: str) -> None:
    import uvicorn

    from gateway.app import create_app
    from gateway.limits.wiring import LIMITS_FACTORY
    from runtimes.local.cli import uvicorn_config
    from runtimes.local.config import load_env
    from runtimes.local.runtime import build_local_runtime, warm_up_when_started
    from runtimes.local.shared_limits import SharedLimits
    from runtimes.local.static import mount_static

    env = load_env()
    env["ADMIN_TOKEN"] = admin_token(state_dir, env)[0]  # the supervisor created it
    if index > 0:
        env["CALL_RECONCILE_SECONDS"] = "0"  # the periodic reconciliation pass runs in worker 0 only
    runtime = await build_local_runtime(state_dir, env, probe_vendors=index == 0)
    limits = SharedLimits(limits_socket, runtime.clock)

    def shared_limits(usage: object, recorder: object) -> SharedLimits:
        limits.recorder = recorder  # type: ignore[assignment]
        return limits

    runtime.extras[LIMITS_FACTORY] = shared_limits
    try:
        await limits.connect()
        app = create_app(runtime)
        mount_static(app)
        listener = _worker_socket(fd)
        server = uvicorn.Server(uvicorn_config(app, env, log_level=log_level))
        limits.on_lost.append(lambda: setattr(server, "should_exit", True))  # the supervisor is gone: stop too
        runtime.tasks.spawn(warm_up_when_started(server, runtime))
        await server.serve(sockets=[listener])
    finally:
        for close in runtime.on_close:
            await close()
        await limits.close()

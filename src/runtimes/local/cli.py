"""``voice-gateway dev``: serve the gateway locally on :8787 (wrangler's port) with embedded SQLite — no account,
no network needed."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path
from typing import Any

from runtimes.local import startup


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="voice-gateway", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    dev = commands.add_parser("dev", help="run the gateway locally (embedded SQLite)")
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--port", type=int, default=8787)
    dev.add_argument("--state-dir", type=Path, default=Path(".state"), help="where the local D1/KV live")
    dev.add_argument("--log-level", default="info")
    dev.add_argument(
        "--workers", type=int, default=int(os.environ.get("VGW_WORKERS") or 1),
        help="worker processes sharing the port (limits stay exact across them; default 1, env VGW_WORKERS)",
    )  # fmt: skip
    # Internal: one worker process of `dev --workers N`, started by the supervisor (runtimes.local.workers).
    worker = commands.add_parser("worker")
    worker.add_argument("--fd", type=int, required=True)
    worker.add_argument("--index", type=int, required=True)
    worker.add_argument("--limits-socket", required=True)
    worker.add_argument("--state-dir", type=Path, required=True)
    worker.add_argument("--log-level", default="info")
    from runtimes.local import realtime_client

    realtime_client.add_parser(commands)
    return parser


async def serve(host: str, port: int, state_dir: Path, log_level: str) -> None:
    import uvicorn

    from gateway.app import create_app
    from runtimes.local.bootstrap import admin_token, ensure_dev_workspace
    from runtimes.local.config import load_env
    from runtimes.local.runtime import build_local_runtime, warm_up_when_started
    from runtimes.local.static import mount_static

    env = load_env()
    state_dir.mkdir(parents=True, exist_ok=True)
    token, generated = admin_token(state_dir, env)
    env["ADMIN_TOKEN"] = token
    runtime = await build_local_runtime(state_dir, env)
    app = create_app(runtime)
    mount_static(app)
    dev_key = await ensure_dev_workspace(app.state.gateway.workspaces)
    print_banner(f"http://{host}:{port}", state_dir, token if generated else None, dev_key)
    server = uvicorn.Server(uvicorn_config(app, env, host=host, port=port, log_level=log_level))
    runtime.tasks.spawn(warm_up_when_started(server, runtime))
    try:
        await server.serve()
    finally:
        for close in runtime.on_close:
            await close()


def print_banner(base: str, state_dir: Path, new_token: str | None, dev_key: str | None, workers: int = 1) -> None:
    processes = f", {workers} worker processes" if workers > 1 else ""
    print(f"Voice AI Gateway on {base}  (state: {state_dir.resolve()}{processes})", flush=True)
    if new_token:
        print(f"  admin token (saved in {state_dir / 'admin-token'}): {new_token}", flush=True)
    if dev_key:
        print("  a 'dev' workspace was created; its API key is shown this once:", flush=True)
        print(f"    export VGW_KEY={dev_key}", flush=True)
    print(f"  console: {base}/console/  (sign in with the admin token or a workspace key)", flush=True)
    print(f"  try: curl -s {base}/health ; docs at {base}/docs", flush=True)


def uvicorn_config(app: Any, env: dict[str, str], **settings: Any) -> Any:
    import uvicorn

    from runtimes.local.http_protocol import bounded_protocol

    return uvicorn.Config(
        app,
        lifespan="on",
        http=bounded_protocol(
            header_timeout=float(env.get("HEADER_TIMEOUT_SECONDS") or 10),
            linger_seconds=float(env.get("LINGER_SECONDS") or 5),
            linger_bytes=int(env.get("LINGER_BYTES") or 64 * 1024 * 1024),
        ),
        timeout_keep_alive=int(env.get("KEEP_ALIVE_SECONDS") or 5),  # idle kept-alive connections
        ws=websocket_protocol,  # type: ignore[arg-type]  # a factory: uvicorn only calls it
        access_log=False,
        timeout_graceful_shutdown=5,
        **settings,
    )


def websocket_protocol(**kwargs: Any) -> Any:
    """uvicorn's sans-I/O WebSocket protocol ("websockets-sansio"), imported at the first WebSocket upgrade (or by
    ``runtimes.local.runtime.warm_up``) instead of while the server starts."""
    from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

    return WebSocketsSansIOProtocol(**kwargs)


def run(main_coroutine: Any) -> Any:
    """Run on uvloop when it is installed (uvicorn picks it only when uvicorn creates the loop; here we do, because
    the runtime is built before serving). Noticeably less CPU per request than the default asyncio loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main_coroutine)
    return uvloop.run(main_coroutine)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "worker" or (args.command == "dev" and args.workers <= 1):
        startup.begin()  # a process that will build the app and serve (the supervisor of --workers does neither)
    logging.basicConfig(
        level=getattr(args, "log_level", "warning").upper(), format="%(levelname)s %(name)s: %(message)s"
    )
    if args.command == "dev":
        try:
            if args.workers > 1:
                from runtimes.local import workers

                return run(workers.supervise(args.host, args.port, args.state_dir, args.log_level, args.workers))
            run(serve(args.host, args.port, args.state_dir, args.log_level))
        except KeyboardInterrupt:
            pass
        return 0
    if args.command == "worker":
        from runtimes.local import workers

        run(workers.serve_worker(args.fd, args.index, args.limits_socket, args.state_dir, args.log_level))
        return 0
    if args.command == "realtime":
        from runtimes.local import realtime_client

        return realtime_client.main(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())

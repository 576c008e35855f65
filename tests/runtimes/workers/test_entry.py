"""``entry.Default`` on CPython stand-ins: import-time rules and the cron hook.

Serving requests through the SDK (HTTP, streamed bodies and their after-work, WebSocket upgrades with subprotocols)
is proven under the real Pyodide and the real ``workers`` SDK by the edge tier (tests/edge/), not here: a stand-in
of the SDK's ASGI adapter would agree with whatever we believe it does.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from gateway.ports import Runtime

from . import standins

ADMIN_TOKEN = "admin-test-token"


def make_env(sqlite_conn: Any, **extra: Any) -> standins.Env:
    import health_do

    env = standins.Env(
        DB=standins.D1Database(sqlite_conn),
        KV=standins.KVNamespace(),
        ADMIN_TOKEN=ADMIN_TOKEN,
        ENVIRONMENT="test",
        MAX_AUDIO_BYTES=1024,  # [vars] may be numbers
        **extra,
    )
    env.PROVIDER_HEALTH = standins.DurableObjectNamespace(lambda state: health_do.ProviderHealthMonitor(state, env))
    return env


def body_of(response: standins.JsResponse) -> Any:
    async def read() -> bytes:
        return b"".join([c.to_bytes() async for c in response.body])

    return read()


async def test_importing_entry_does_no_io(sdk, monkeypatch):
    def no_sockets(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a connection was attempted at import time")

    monkeypatch.setattr(socket.socket, "connect", no_sockets)
    monkeypatch.setattr(socket, "getaddrinfo", no_sockets)
    import entry

    assert entry._app is None
    assert sdk.network.sent == [] and sdk.asgi.calls == []
    assert issubclass(entry.ProviderHealthMonitor, standins.DurableObject)
    assert issubclass(entry.WorkspaceLimiter, standins.DurableObject)
    assert issubclass(entry.Default, standins.WorkerEntrypoint)


@pytest.fixture
def small_app(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Replace the core app with a tiny one that shows what the runtime gave it."""
    import entry

    seen: dict[str, Any] = {"built": 0, "shutdowns": 0, "runtime": None}

    def create_app(runtime: Runtime) -> FastAPI:
        seen["built"] += 1
        seen["runtime"] = runtime

        @asynccontextmanager
        async def lifespan(app: FastAPI):  # type: ignore[no-untyped-def]
            yield
            seen["shutdowns"] += 1

        app = FastAPI(lifespan=lifespan)

        @app.get("/probe")
        async def probe() -> dict[str, Any]:
            runtime.tasks.spawn(asyncio.sleep(0))
            await runtime.kv.put("seen", "yes")
            return {
                "environment": runtime.env.get("ENVIRONMENT"),
                "max": runtime.env.get("MAX_AUDIO_BYTES"),
                "ai": "AI" in runtime.extras,
            }

        return app

    monkeypatch.setattr(entry, "create_app", create_app)
    monkeypatch.setattr(entry, "_app", None)
    return seen


async def test_scheduled_ticks_the_health_object_and_reconciles_calls(sdk, sqlite_conn, monkeypatch):
    import entry

    ticks: list[str] = []

    class HealthObject:
        async def tick(self) -> None:
            ticks.append("tick")

        async def snapshot(self) -> dict[str, Any]:
            return {}

    monkeypatch.setattr(entry, "_app", None)
    env = make_env(sqlite_conn)
    env.PROVIDER_HEALTH = standins.DurableObjectNamespace(lambda state: HealthObject())
    # a call reservation whose creating request died long ago: the cron's reconciliation pass closes it
    sqlite_conn.execute("INSERT INTO workspaces (id, name, created_at, updated_at) VALUES ('ws', 'w', 0, 0)")
    sqlite_conn.execute(
        "INSERT INTO agent_calls (id, workspace_id, request_id, agent, type, status, created_at, updated_at)"
        " VALUES ('call_1', 'ws', 'req_1', 'support', 'web', 'creating', 0, 0)"
    )
    ctx = standins.ExecutionContext()
    await entry.Default(ctx, env).scheduled(object(), env, ctx)
    assert ticks == ["tick"]
    assert sqlite_conn.execute("SELECT status FROM agent_calls WHERE id = 'call_1'").fetchone() == ("failed",)


# Run in a fresh interpreter: in this one, other tests have imported the core long before.
FIRST_REQUEST_IMPORTS = """
import json, sqlite3, sys
from tests.runtimes.workers import standins

sys.modules.update(standins.build().modules)
import entry

before = set(sys.modules)
env = standins.Env(DB=standins.D1Database(sqlite3.connect(":memory:")), KV=standins.KVNamespace(), ENVIRONMENT="test")
env.PROVIDER_HEALTH = standins.DurableObjectNamespace(lambda state: None)
entry.app_for(env)
entry.ProviderHealthMonitor(standins.DurableObjectState(), env)
entry.WorkspaceLimiter(standins.DurableObjectState(), env)
print(json.dumps(sorted(m for m in set(sys.modules) - before if m.split(".")[0] in ("gateway", "providers"))))
"""


def test_the_first_request_imports_no_core_module_the_import_snapshot_could_hold():
    """Workers snapshot the import phase: a core module first imported while building the app (or a Durable Object)
    would be imported again by every new isolate, on its first request."""
    root = Path(__file__).resolve().parents[3]
    result = subprocess.run(
        [sys.executable, "-c", FIRST_REQUEST_IMPORTS],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(root / "src"), str(root)])},
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1]) == []

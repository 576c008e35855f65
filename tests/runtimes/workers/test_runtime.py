"""Building the Runtime from a Worker env, and the boundary rules: the core never imports the Workers modules."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx

from runtimes.workers.cipher import WebCryptoCipher
from runtimes.workers.d1 import D1Database
from runtimes.workers.health import DurableObjectHealthService
from runtimes.workers.http_transport import WorkersFetchTransport
from runtimes.workers.kv import WorkersKV
from runtimes.workers.runtime import ENV_NAMES, build_runtime, string_vars
from runtimes.workers.tasks import WorkersBackgroundTasks
from runtimes.workers.websocket import open_websocket

from . import standins

ROOT = Path(__file__).resolve().parents[3]


async def test_build_runtime_wires_the_workers_ports(sdk, sqlite_conn):
    env = standins.Env(
        DB=standins.D1Database(sqlite_conn),
        KV=standins.KVNamespace(),
        PROVIDER_HEALTH=standins.DurableObjectNamespace(lambda state: None),
        OPENAI_API_KEY="sk-test",
        ATTEMPT_TIMEOUT_SECONDS=7.5,
        DEFAULT_STRATEGY=None,
        UNRELATED="ignored",
    )
    runtime = build_runtime(env)
    try:
        assert isinstance(runtime.db, D1Database) and isinstance(runtime.kv, WorkersKV)
        assert isinstance(runtime.health, DurableObjectHealthService)
        assert isinstance(runtime.tasks, WorkersBackgroundTasks)
        assert isinstance(runtime.http._transport, WorkersFetchTransport)
        assert runtime.open_websocket is open_websocket
        assert runtime.env == {"OPENAI_API_KEY": "sk-test", "ATTEMPT_TIMEOUT_SECONDS": "7.5"}
        assert set(runtime.extras) == {"speech_cache_store", "timers_end_with_request"}  # no AI binding in this env
        assert runtime.extras["speech_cache_store"].kv is runtime.kv
        assert runtime.extras["timers_end_with_request"] is True
        assert isinstance(runtime.cipher, WebCryptoCipher)
    finally:
        await runtime.http.aclose()
    assert sdk.network.sent == [] and env.DB.calls == []  # building touches no binding


def test_string_vars_skip_non_strings(sdk):
    env = standins.Env(ADMIN_TOKEN="t", ENVIRONMENT=standins.jsnull, MAX_AUDIO_BYTES=True, GEMINI_API_KEY=object())
    assert string_vars(env) == {"ADMIN_TOKEN": "t"}


def _names_the_core_reads() -> set[str]:
    patterns = [
        r'env_(?:key|base_url)\s*=\s*"([A-Z][A-Z0-9_]+)"',
        r'env(?:\.get\(|\[)\s*"([A-Z][A-Z0-9_]+)"',
        r'_\w+\(env,\s*"([A-Z][A-Z0-9_]+)"',  # helpers such as _number(env, "X"), _seconds(env, "X")
    ]
    found: set[str] = set()
    for path in list((ROOT / "src/gateway").rglob("*.py")) + list((ROOT / "src/providers").rglob("*.py")):
        text = path.read_text()
        for pattern in patterns:
            found.update(re.findall(pattern, text))
    return found


def test_every_variable_the_core_reads_is_passed_through():
    """The Worker env is read name by name: a variable the core reads but ENV_NAMES lacks would silently vanish."""
    read = _names_the_core_reads()
    assert {"ADMIN_TOKEN", "OPENAI_API_KEY"} <= read  # the scan itself works
    assert read - set(ENV_NAMES) == set()


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env={"PYTHONPATH": f"{ROOT / 'src'}:{ROOT}", "PATH": "/usr/bin:/bin"},
    )


def test_core_and_workers_adapters_import_without_js():
    """Importing every core module (and this package) never pulls in js/pyodide/workers."""
    result = _run(
        """
        import importlib, pkgutil, sys
        import gateway, providers, runtimes.workers
        failed = []
        for package in (gateway, providers, runtimes.workers):
            for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
                try:
                    importlib.import_module(info.name)
                except ModuleNotFoundError as exc:
                    if exc.name in ("js", "pyodide", "workers"):
                        raise
                    failed.append(info.name)  # a colleague's module mid-way; not this test's concern
        leaked = sorted(n for n in ("js", "pyodide", "pyodide.ffi", "workers") if n in sys.modules)
        assert not leaked, leaked
        assert "gateway.app" in sys.modules and "runtimes.workers.runtime" in sys.modules
        print("ok", len(sys.modules), failed)
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok")


def test_importing_entry_opens_no_connection_and_builds_nothing():
    """A fresh interpreter, stand-ins installed, sockets forbidden: importing the Worker modules does no I/O."""
    result = _run(
        """
        import socket, sys
        def forbidden(*a, **k):
            raise AssertionError("network at import time")
        socket.socket.connect = socket.socket.connect_ex = forbidden
        socket.getaddrinfo = socket.create_connection = forbidden
        from tests.runtimes.workers import standins
        installed = standins.build()
        sys.modules.update(installed.modules)
        import entry
        assert entry._app is None
        assert installed.network.sent == [] and installed.asgi.calls == []
        print("ok")
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_http_client_timeout_reaches_the_transport():
    """The core passes per-call timeouts; the transport reads them from the request extensions."""
    request = httpx.Request("GET", "https://vendor.example/", extensions={"timeout": httpx.Timeout(3.0).as_dict()})
    assert request.extensions["timeout"]["read"] == 3.0


async def test_workspace_limiter_binding_selects_leasing_over_rpc(sdk, sqlite_conn):
    from gateway.limits.leasing import LeasingLimits
    from gateway.limits.wiring import LIMITER_STUBS, build_limits
    from gateway.store.usage import UsageStore

    class RecordingLimiter:
        def __init__(self) -> None:
            self.seen: list[tuple[str, dict]] = []

        async def acquire(self, request: dict) -> dict:
            self.seen.append(("acquire", request))
            return {"granted": True, "echo": request}

        async def release(self, lease: dict) -> None:
            self.seen.append(("release", lease))

    namespace = standins.DurableObjectNamespace(lambda state: RecordingLimiter())
    env = standins.Env(
        DB=standins.D1Database(sqlite_conn),
        KV=standins.KVNamespace(),
        PROVIDER_HEALTH=standins.DurableObjectNamespace(lambda state: None),
        WORKSPACE_LIMITS=namespace,
    )
    runtime = build_runtime(env)
    try:
        stub_for = runtime.extras[LIMITER_STUBS]
        assert stub_for("ws_a") is stub_for("ws_a")  # one stub per workspace per isolate
        grant = await stub_for("ws_a").acquire({"permits": 3})
        await stub_for("ws_b").release({"lease": "x"})
        assert grant == {"granted": True, "echo": {"permits": 3}}
        assert namespace.objects["ws_a"].seen == [("acquire", {"permits": 3})]  # one object per workspace
        assert namespace.objects["ws_b"].seen == [("release", {"lease": "x"})]
        assert isinstance(build_limits(runtime, UsageStore(runtime.db)), LeasingLimits)
    finally:
        await runtime.http.aclose()


async def test_ai_binding_comes_with_a_websocket_adopter(sdk, sqlite_conn):
    from providers.realtime.routes import ADOPT_WEBSOCKET
    from runtimes.workers.websocket import WorkersUpstreamWebSocket

    ai = object()
    env = standins.Env(
        DB=standins.D1Database(sqlite_conn),
        KV=standins.KVNamespace(),
        PROVIDER_HEALTH=standins.DurableObjectNamespace(lambda state: None),
        AI=ai,
    )
    runtime = build_runtime(env)
    try:
        assert runtime.extras["AI"] is ai
        assert runtime.extras[ADOPT_WEBSOCKET] is WorkersUpstreamWebSocket
    finally:
        await runtime.http.aclose()

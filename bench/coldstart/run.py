"""Cold start of the local server: process start → first 200 from ``/health``, and the CPython import time of the
modules the Worker snapshots (``gateway.app`` and the vendor adapters; ``entry`` itself needs the Workers runtime,
whose cold import under Pyodide is bench/edge).

    uv run python bench/coldstart/run.py [--n 5]

The last figures are with a keyed vendor configured (its health probes run) and the first real request:
``POST /voice/synthesize`` through the OpenAI adapter to a fake vendor (``bench.fast_fake``), sent the moment
``/health`` first answers — it meets the imports start-up deferred (the vendor HTTP transport, imported by the
warm-up thread: ``runtimes.local.runtime.warm_up``) — then the same request again on the same connection, and a
first request sent 1 s after start (the warm-up done).

Each figure is the median of ``--n`` fresh processes. The gateway's own modules are compiled first (an install
compiles them; an editable checkout with ``PYTHONDONTWRITEBYTECODE`` set would recompile them at every start).
"no bytecode" runs give every process an empty ``PYTHONPYCACHEPREFIX``, so it compiles every module it imports: what
the first start after an install pays when the installer did not compile bytecode (``[tool.uv] compile-bytecode``
makes uv do it at install).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1].parent
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
ENV = {k: v for k, v in ENV.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
MODULES = ["gateway.app", "providers", "runtimes.local.cli"]
sys.path.insert(0, str(ROOT))
from bench._procs import start_fast_fake  # noqa: I001


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _health_ok(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            return sock.recv(64).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux): unlike wall time, the box's load does not inflate it."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


CPU: list[float] = []  # the server process's CPU time at its first 200, per run (single-process runs)


def first_200(state_dir: str, env: dict[str, str], workers: int = 1, uv_run: bool = False) -> float:
    """Seconds from spawning ``voice-gateway dev`` to its first 200 (polled every 2 ms); ``uv_run``: started as
    ``uv run voice-gateway dev`` (uv checks the environment first)."""
    port = free_port()
    launcher = (
        ["uv", "run", "--project", str(ROOT), "voice-gateway"]
        if uv_run
        else [sys.executable, "-m", "runtimes.local.cli"]
    )
    args = [*launcher, "dev", "--port", str(port), "--state-dir", state_dir,
            "--log-level", "warning"] + (["--workers", str(workers)] if workers > 1 else [])  # fmt: skip
    started = time.perf_counter()
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=state_dir)
    try:
        while not _health_ok(port):
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode}")
            time.sleep(0.002)
        elapsed = time.perf_counter() - started
        if workers == 1 and not uv_run:
            CPU.append(cpu_seconds(proc.pid))
        return elapsed
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def _post(conn: http.client.HTTPConnection, path: str, body: dict, key: str) -> float:
    started = time.perf_counter()
    conn.request("POST", path, json.dumps(body), {"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    response = conn.getresponse()
    payload = response.read()
    if response.status != 200:
        raise RuntimeError(f"{path}: {response.status} {payload[:300]!r}")
    return time.perf_counter() - started


def synthesize_body() -> dict:
    """A text never sent before: the speech cache must not answer it."""
    return {"text": f"Hello from the cold start benchmark, {time.time_ns()}.", "provider": "openai"}


def first_synthesize(state_dir: str, env: dict[str, str], key: str, delay: float = 0.0) -> tuple[float, float]:
    """Start the server, wait for its first 200 (then ``delay`` seconds), send ``/voice/synthesize`` twice on one
    connection: seconds taken by the first and by the second."""
    port = free_port()
    args = [sys.executable, "-m", "runtimes.local.cli", "dev", "--port", str(port), "--state-dir", state_dir,
            "--log-level", "warning"]  # fmt: skip
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=state_dir)
    try:
        while not _health_ok(port):
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode}")
            time.sleep(0.002)
        time.sleep(delay)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            first = _post(conn, "/voice/synthesize", synthesize_body(), key)
            return first, _post(conn, "/voice/synthesize", synthesize_body(), key)
        finally:
            conn.close()
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def vendor_state(base: str, env: dict[str, str]) -> tuple[str, str]:
    """A state dir whose dev workspace can call the fake vendor all it likes: (state dir, its API key)."""
    state = tempfile.mkdtemp(dir=base)
    port = free_port()
    args = [sys.executable, "-m", "runtimes.local.cli", "dev", "--port", str(port), "--state-dir", state,
            "--log-level", "warning"]  # fmt: skip
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=state, text=True)
    try:
        assert proc.stdout is not None
        key = next(line.split("VGW_KEY=", 1)[1].strip() for line in proc.stdout if "VGW_KEY=" in line)
        while not _health_ok(port):
            time.sleep(0.01)
        admin = {"Authorization": f"Bearer {Path(state, 'admin-token').read_text().strip()}"}
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("GET", "/admin/workspaces", headers=admin)
        workspace = json.loads(conn.getresponse().read())["workspaces"][0]["id"]
        limits = {"limits": {"requestsPerMinute": 1_000_000, "requestsPerHour": 100_000_000}}
        conn.request("PATCH", f"/admin/workspaces/{workspace}", json.dumps(limits), admin)
        response = conn.getresponse()
        if response.status != 200:
            raise RuntimeError(f"lifting the limits: {response.status} {response.read()[:300]!r}")
        conn.close()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    return state, key


# `import gateway.app` as the servers and the Worker import it: the collector off and no pydantic.v1
# (runtimes.local.startup, runtimes.workers.import_phase).
AS_SERVED = "from runtimes.local import startup; startup.begin(); "


def import_seconds(module: str, env: dict[str, str], prefix: str = "") -> float:
    code = f"{prefix}import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    return float(subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                                check=True).stdout)  # fmt: skip


def median_ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:.0f} ms (min {min(values) * 1000:.0f}, max {max(values) * 1000:.0f})"


def no_bytecode_env() -> dict[str, str]:
    return {**ENV, "PYTHONPYCACHEPREFIX": tempfile.mkdtemp(prefix="vgw-pyc-")}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=5)
    args = parser.parse_args()
    # The gateway's own modules, compiled as an install would (an editable checkout under PYTHONDONTWRITEBYTECODE
    # would otherwise compile them on every start); the "no bytecode" runs ignore these files.
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "src")], check=True)
    print(f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs, "
          f"load {os.getloadavg()[0]:.1f}")  # fmt: skip
    for module in MODULES:
        warm = [import_seconds(module, ENV) for _ in range(args.n)]
        cold = [import_seconds(module, no_bytecode_env()) for _ in range(args.n)]
        print(f"import {module:<20} {median_ms(warm)};  no bytecode {median_ms(cold)}")
    served = [import_seconds("gateway.app", ENV, AS_SERVED) for _ in range(args.n)]
    print(f"import gateway.app, as served  {median_ms(served)}")
    with tempfile.TemporaryDirectory(prefix="vgw-cold-") as base:
        fresh = [first_200(tempfile.mkdtemp(dir=base), ENV) for _ in range(args.n)]
        state = tempfile.mkdtemp(dir=base)
        first_200(state, ENV)
        CPU.clear()
        restart = [first_200(state, ENV) for _ in range(args.n)]
        restart_cpu = list(CPU)
        no_pyc = [first_200(state, no_bytecode_env()) for _ in range(args.n)]
        workers = [first_200(state, ENV, workers=2) for _ in range(args.n)]
        via_uv = [first_200(state, ENV, uv_run=True) for _ in range(args.n)]
    print(f"start → first 200, new state dir        {median_ms(fresh)}")
    print(f"start → first 200, existing state dir   {median_ms(restart)};  CPU time {median_ms(restart_cpu)}")
    print(f"start → first 200, no bytecode          {median_ms(no_pyc)}")
    print(f"start → first 200, --workers 2          {median_ms(workers)}")
    print(f"start → first 200, via `uv run`         {median_ms(via_uv)}")
    fake, fake_url = start_fast_fake()
    vendor_env = {**ENV, "OPENAI_API_KEY": "test-openai-key", "OPENAI_BASE_URL": f"{fake_url}/v1"}
    try:
        with tempfile.TemporaryDirectory(prefix="vgw-cold-") as base:
            state, key = vendor_state(base, vendor_env)
            CPU.clear()
            keyed = [first_200(state, vendor_env) for _ in range(args.n)]
            keyed_cpu = list(CPU)
            at_once = [first_synthesize(state, vendor_env, key) for _ in range(args.n)]
            later = [first_synthesize(state, vendor_env, key, delay=1.0) for _ in range(args.n)]
    finally:
        fake.stop()
    print(f"start → first 200, a keyed vendor configured {median_ms(keyed)};  CPU time {median_ms(keyed_cpu)}")
    print(f"first /voice/synthesize, sent at the first 200   {median_ms([first for first, _ in at_once])}")
    print(f"  the same request again (warm)                   {median_ms([second for _, second in at_once])}")
    print(f"first /voice/synthesize, sent 1 s after start   {median_ms([first for first, _ in later])}")


if __name__ == "__main__":
    main()

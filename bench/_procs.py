"""Helpers for benchmarks: run a vendor fake and the local gateway as separate processes, drive them with wrk."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Process:
    """A child process whose output goes to a file (not a pipe: a pipe drained by a Python thread on a busy machine
    fills up and blocks the child's writes — the gateway's request-log lines would be timed as gateway CPU)."""

    def __init__(self, args: list[str], env: dict[str, str] | None = None, cwd: str | None = None) -> None:
        self.output = tempfile.NamedTemporaryFile("w+", prefix="vgw-bench-out-", suffix=".log", delete=False)
        self.proc = subprocess.Popen(
            args, stdout=self.output, stderr=subprocess.STDOUT, text=True, env={**ENV, **(env or {})}, cwd=cwd
        )

    @property
    def lines(self) -> list[str]:
        return Path(self.output.name).read_text(errors="replace").splitlines()

    def wait_http(self, url: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("process exited:\n" + "\n".join(self.lines))
            try:
                httpx.get(url, timeout=1)
                return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("process did not start:\n" + "\n".join(self.lines))

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.output.close()
        os.unlink(self.output.name)


def start_fast_fake() -> tuple[Process, str]:
    """The raw-asyncio OpenAI fake (bench.fast_fake): tens of thousands of requests/s, never the bottleneck."""
    port = free_port()
    proc = Process([sys.executable, "-m", "bench.fast_fake", str(port)])
    url = f"http://127.0.0.1:{port}"
    proc.wait_http(url + "/")
    return proc, url


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far (/proc/PID/stat utime + stime)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants now alive (a server's workers), from the parent ids in /proc/*/stat."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue  # exited while we looked
            children.setdefault(ppid, []).append(int(entry.name))
    tree, todo = [], [pid]
    while todo:
        tree.append(todo.pop())
        todo.extend(children.get(tree[-1], []))
    return tree


def tree_cpu_seconds(pid: int) -> float:
    """CPU time of a process and its live descendants (workers, helper processes); children that exited and were
    reaped count through their parent's cutime + cstime."""
    total = 0.0
    for member in process_tree(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")
    return total


def tree_rss_mb(pid: int) -> float:
    """VmRSS summed over a process tree (pages shared between workers are counted once per worker)."""
    total = 0.0
    for member in process_tree(pid):
        try:
            total += rss_mb(member)
        except OSError:
            continue
    return total


def start_fake(vendor: str) -> tuple[Process, str]:
    port = free_port()
    proc = Process([sys.executable, "-m", "bench.serve_fake", vendor, str(port)])
    url = f"http://127.0.0.1:{port}"
    proc.wait_http(url + "/")
    return proc, url


def start_dev(env: dict[str, str], state: Path) -> tuple[Process, str]:
    """``voice-gateway dev`` on a free port over ``state`` (a new or an existing state dir), once it answers."""
    port = free_port()
    proc = Process(
        [sys.executable, "-m", "runtimes.local.cli", "dev", "--port", str(port), "--state-dir", str(state),
         "--log-level", "warning"],
        env=env,
        cwd=str(state),
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    proc.wait_http(url + "/health")
    return proc, url


def start_gateway(env: dict[str, str]) -> tuple[Process, str, str, Path]:
    state = Path(tempfile.mkdtemp(prefix="vgw-bench-"))
    proc, url = start_dev(env, state)
    key = next(line.split("VGW_KEY=", 1)[1] for line in proc.lines if "VGW_KEY=" in line)
    # Benchmarks measure the gateway, not the default 60 requests/minute: lift the dev workspace's rate limits
    # (they are still checked on every request, just never hit).
    admin = {"Authorization": f"Bearer {(state / 'admin-token').read_text().strip()}"}
    workspace = httpx.get(f"{url}/admin/workspaces", headers=admin).json()["workspaces"][0]["id"]
    r = httpx.patch(
        f"{url}/admin/workspaces/{workspace}",
        headers=admin,
        json={"limits": {"requestsPerMinute": 1_000_000, "requestsPerHour": 100_000_000}},
    )
    r.raise_for_status()
    return proc, url, key, state


def wrk(url: str, body: str, headers: dict[str, str], *, connections: int, seconds: int, threads: int = 1) -> dict:
    """Run wrk with a POST body; returns requests/s and latency percentiles in ms."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")
    lua = (
        "wrk.method = 'POST'\nwrk.body = [["
        + body
        + "]]\n"
        + "".join(f"wrk.headers['{k}'] = '{v}'\n" for k, v in headers.items())
    )
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write(lua)
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", fh.name, url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    os.unlink(fh.name)
    return parse_wrk(out)


def _ms(value: str) -> float:
    number, unit = re.match(r"([\d.]+)(\w+)", value).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def parse_wrk(out: str) -> dict:
    result: dict = {"raw": out}
    result["rps"] = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    for pct in ("50", "75", "90", "99"):
        m = re.search(rf"^\s+{pct}(?:\.000)?%\s+(\S+)", out, re.M)
        if m:
            result[f"p{pct}"] = _ms(m.group(1))
    total = re.search(r"(\d+) requests in", out)
    result["requests"] = int(total.group(1)) if total else 0
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    result["non2xx"] = int(errors.group(1)) if errors else 0
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    result["socket_errors"] = sum(int(n) for n in sockets.groups()) if sockets else 0
    return result

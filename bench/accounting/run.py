"""What auth + limits + accounting add per request: the same in-process app and the same in-process OpenAI fake,
``POST /voice/synthesize``, with them on (a workspace key, admission against the workspace's limits, a usage row
written in a batch) versus off (a fixed caller injected without key lookup or admission, usage rows dropped).

    uv run python -m bench.accounting.run [--requests 2000] [--concurrency 50]

Prints a Markdown report (the committed RESULTS.md is one such run). Both modes run interleaved in rounds so that
drift in machine load hits them alike.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

import httpx  # noqa: E402

from gateway.api.deps import Caller, workspace_caller  # noqa: E402
from gateway.app import create_app  # noqa: E402
from runtimes.local.runtime import build_local_runtime  # noqa: E402
from tests.fakes import openai as openai_fake  # noqa: E402
from tests.fakes.harness import FakeState  # noqa: E402

ADMIN = "bench-admin-token"
BODY = {"text": "The quick brown fox jumps over the lazy dog."}


async def build(accounting: bool) -> tuple[Any, httpx.AsyncClient, dict[str, str], Any]:
    vendor = httpx.AsyncClient(transport=httpx.ASGITransport(app=openai_fake.create_app(FakeState())))
    env = {"ADMIN_TOKEN": ADMIN, "OPENAI_API_KEY": "test-openai-key", "OPENAI_BASE_URL": "http://openai.fake/v1"}
    runtime = await build_local_runtime(None, env)
    await runtime.http.aclose()
    runtime.http = vendor
    app = create_app(runtime)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway.bench")
    admin = {"Authorization": f"Bearer {ADMIN}"}
    await client.put("/admin/platform/settings", json={"builtinFallbackEnabled": False}, headers=admin)
    limits = {
        "requestsPerMinute": 1_000_000,
        "requestsPerHour": 100_000_000,
        "monthlyBudgetUsd": 1_000_000,
        "audioMinutesPerMonth": 10_000_000,
    }
    workspace = (await client.post("/admin/workspaces", json={"name": "bench", "limits": limits}, headers=admin)).json()
    key = (await client.post(f"/admin/workspaces/{workspace['id']}/keys", headers=admin)).json()["key"]
    headers = {"Authorization": f"Bearer {key}"}
    if not accounting:
        gateway = app.state.gateway
        fixed = await _caller_for(client, app, headers)

        async def no_auth_no_limits() -> Caller:
            return Caller(gateway, fixed.principal, f"req_{time.perf_counter_ns()}", fixed.workspace)

        app.dependency_overrides[workspace_caller] = no_auth_no_limits
        gateway.recorder.record_usage = lambda row: None  # accounting off: no usage rows
    return runtime, client, headers, vendor


async def _caller_for(client: httpx.AsyncClient, app: Any, headers: dict[str, str]) -> Caller:
    gateway = app.state.gateway
    principal = await gateway.auth.authenticate(headers["Authorization"].split(" ", 1)[1])
    return Caller(gateway, principal, "req_bench", await gateway.workspace(principal.workspace_id))


async def sequential(client: httpx.AsyncClient, headers: dict[str, str], n: int) -> list[float]:
    latencies = []
    for _ in range(n):
        started = time.perf_counter()
        r = await client.post("/voice/synthesize", json=BODY, headers=headers)
        latencies.append(time.perf_counter() - started)
        assert r.status_code == 200, r.text
    return latencies


async def concurrent(runtime: Any, client: httpx.AsyncClient, headers: dict[str, str], n: int, width: int) -> float:
    gate = asyncio.Semaphore(width)

    async def one() -> None:
        async with gate:
            r = await client.post("/voice/synthesize", json=BODY, headers=headers)
            assert r.status_code == 200, r.text

    started = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(n)))
    await runtime.tasks.drain()  # the usage rows are part of the cost: wait until they are written
    return n / (time.perf_counter() - started)


async def main(requests: int, width: int, rounds: int) -> str:
    modes = {"off": await build(False), "on": await build(True)}
    for runtime, client, headers, _ in modes.values():  # warm up both
        await sequential(client, headers, 50)
        await concurrent(runtime, client, headers, 200, width)
    latencies: dict[str, list[float]] = {"off": [], "on": []}
    throughput: dict[str, list[float]] = {"off": [], "on": []}
    for _ in range(rounds):
        for mode, (runtime, client, headers, _) in modes.items():
            latencies[mode] += await sequential(client, headers, requests // rounds // 4)
            throughput[mode].append(await concurrent(runtime, client, headers, requests // rounds, width))
    on_runtime, on_client, _, _ = modes["on"]
    await on_runtime.tasks.drain()
    rows = (await on_runtime.db.first("SELECT COUNT(*) AS n FROM usage_records"))["n"]
    for runtime, client, _, vendor in modes.values():
        await client.aclose()
        for close in runtime.on_close:
            await close()
        await vendor.aclose()

    def ms(values: list[float], q: float | None = None) -> float:
        if q is None:
            return statistics.mean(values) * 1000
        return statistics.quantiles(values, n=100)[int(q) - 1] * 1000

    rps = {mode: statistics.median(values) for mode, values in throughput.items()}
    mean = {mode: ms(values) for mode, values in latencies.items()}
    p50 = {mode: ms(values, 50) for mode, values in latencies.items()}
    p99 = {mode: ms(values, 99) for mode, values in latencies.items()}
    lines = [
        "# Accounting and limits: what they add per request",
        "",
        f"`uv run python -m bench.accounting.run --requests {requests} --concurrency {width} --rounds {rounds}` — "
        f"Python {platform.python_version()}, {platform.machine()}, one process, in-process app and OpenAI fake "
        "(ASGI transports, no sockets), SQLite in memory. `POST /voice/synthesize` (44 characters).",
        "",
        "- **on**: workspace key lookup (cached), admission (rate windows per workspace and key, budget reservation "
        "and audio quota, all set), usage row buffered and written in batches, release at the end of the response.",
        "- **off**: the same route with a fixed caller injected (no key lookup, no admission) and usage rows dropped.",
        "",
        "| | off | on | on / off |",
        "|---|---:|---:|---:|",
        f"| requests/s (concurrency {width}, rows written) | {rps['off']:.0f} | {rps['on']:.0f} | "
        f"{rps['on'] / rps['off']:.3f} |",
        f"| latency mean, sequential (ms) | {mean['off']:.3f} | {mean['on']:.3f} | {mean['on'] / mean['off']:.3f} |",
        f"| latency p50 (ms) | {p50['off']:.3f} | {p50['on']:.3f} | {p50['on'] / p50['off']:.3f} |",
        f"| latency p99 (ms) | {p99['off']:.3f} | {p99['on']:.3f} | {p99['on'] / p99['off']:.3f} |",
        "",
        f"Added per request: **{mean['on'] - mean['off']:.3f} ms** mean latency; throughput ratio "
        f"**{rps['on'] / rps['off']:.3f}** (on/off). Usage rows written in the *on* run: {rows} "
        f"(one per request, warm-up included).",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=4000, help="concurrent requests per mode (in all rounds)")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    print(asyncio.run(main(args.requests, args.concurrency, args.rounds)), end="")

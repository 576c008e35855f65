"""Voice-agent call round trip over real HTTP: ``voice-gateway dev`` as a subprocess, the Vapi and Retell fakes as
loopback servers. Per call: ``POST /voice/calls`` → the vendor's signed end webhook → the usage row in the
gateway's SQLite (read from its state dir). Prints percentiles; results go in RESULTS.md.

    uv run python bench/calls/run.py [calls per series]
"""

from __future__ import annotations

import asyncio
import platform
import sqlite3
import statistics
import sys
import time
from pathlib import Path

import httpx

sys.path[:0] = [str(Path(__file__).resolve().parents[2]), str(Path(__file__).resolve().parents[2] / "src")]

from bench._procs import start_gateway
from tests.fakes import retell, vapi
from tests.fakes.harness import FakeServer, Fault

AGENT = {"vendors": {"vapi": {"assistantId": "asst_support", "phoneNumberId": "pn_main"},
                     "retell": {"agentId": "agent_support", "fromNumber": "+14155550100"}}}  # fmt: skip


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def line(name: str, values: list[float]) -> str:
    return (f"{name:<38} p50 {pct(values, 50):7.2f} ms   p99 {pct(values, 99):7.2f} ms   "
            f"mean {statistics.fmean(values):7.2f} ms")  # fmt: skip


async def series(
    client: httpx.AsyncClient, key: str, db: Path, vapi_fake: FakeServer, retell_fake: FakeServer, n: int,
    *, vapi_down: bool | str,
) -> dict[str, list[float]]:  # fmt: skip
    out: dict[str, list[float]] = {"create": [], "webhook": [], "usage": [], "total": [], "attempts": []}
    auth = {"Authorization": f"Bearer {key}"}
    conn = sqlite3.connect(db)
    for i in range(n):
        if vapi_down is True or (vapi_down == "alternate" and i % 2 == 0):
            vapi_fake.state.fail(Fault("status", status=503))
        t0 = time.perf_counter()
        r = await client.post("/voice/calls", json={"agent": "support", "type": "phone", "to": "+14155550123"},
                              headers=auth)  # fmt: skip
        t1 = time.perf_counter()
        assert r.status_code == 201, r.text
        body = r.json()
        out.setdefault("attempts", []).append(float(r.headers["X-Attempts"]))
        if body["provider"] == "vapi":
            call = vapi.finish(vapi_fake.state, body["vendorCallId"], seconds=60, cost=0.11)
            delivery = await vapi.send(client, vapi.end_of_call_report(call))
        else:
            call = retell.finish(retell_fake.state, body["vendorCallId"], seconds=60, cost_cents=11)
            delivery = await retell.send(client, "call_ended", call)
        t2 = time.perf_counter()
        assert delivery.statuses == [200], delivery.statuses
        while conn.execute("SELECT COUNT(*) FROM usage_records WHERE request_id = ?", (body["id"],)).fetchone()[0] != 1:
            await asyncio.sleep(0.0005)
        t3 = time.perf_counter()
        out["create"].append((t1 - t0) * 1000)
        out["webhook"].append((t2 - t1) * 1000)
        out["usage"].append((t3 - t2) * 1000)
        out["total"].append((t3 - t0) * 1000)
    conn.close()
    return out


async def main(n: int) -> None:
    with FakeServer(vapi.create_app(state := __import__("tests.fakes.harness", fromlist=["FakeState"]).FakeState()),
                    state) as vapi_fake:  # fmt: skip
        retell_fake = FakeServer(None)  # type: ignore[arg-type]
        retell_fake.app = retell.create_app(retell_fake.state)
        with retell_fake:
            env = {"VAPI_API_KEY": vapi.API_KEY, "VAPI_BASE_URL": vapi_fake.url,
                   "VAPI_WEBHOOK_SECRET": vapi.WEBHOOK_SECRET, "RETELL_API_KEY": retell.API_KEY,
                   "RETELL_BASE_URL": retell_fake.url}  # fmt: skip
            results: list[tuple[str, dict[str, list[float]]]] = []
            usage: dict = {}
            # Second gateway: breakers that never open, so every call pays Vapi's 503 first (X-Attempts: 2).
            for breaker_threshold in (None, "1000000"):
                extra = {"BREAKER_FAILURE_THRESHOLD": breaker_threshold} if breaker_threshold else {}
                proc, url, key, state_dir = start_gateway({**env, **extra})
                try:
                    admin = {"Authorization": f"Bearer {(state_dir / 'admin-token').read_text().strip()}"}
                    db = state_dir / "d1.sqlite"
                    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
                        workspaces = (await client.get("/admin/workspaces", headers=admin)).json()["workspaces"]
                        r = await client.put(f"/admin/workspaces/{workspaces[0]['id']}/agents/support", json=AGENT,
                                             headers=admin)  # fmt: skip
                        r.raise_for_status()
                        await series(client, key, db, vapi_fake, retell_fake, 5, vapi_down=False)  # warm-up
                        if breaker_threshold is None:
                            results.append(("Vapi serving", await series(client, key, db, vapi_fake, retell_fake, n,
                                                                         vapi_down=False)))  # fmt: skip
                            results.append(
                                (
                                    "Vapi answering 503, breakers on (they open after 3)",
                                    await series(client, key, db, vapi_fake, retell_fake, n, vapi_down=True),
                                )
                            )
                            usage = (await client.get("/usage", headers={"Authorization": f"Bearer {key}"})).json()
                        else:
                            results.append(
                                (
                                    "Vapi answering 503 on every other call, breakers never open",
                                    await series(client, key, db, vapi_fake, retell_fake, n, vapi_down="alternate"),
                                )
                            )
                finally:
                    proc.stop()
                vapi_fake.state.queued.clear()
    print(f"# call round trip — {n} calls per series, voice-gateway dev over HTTP, "
          f"Python {platform.python_version()} on {platform.machine()}\n")  # fmt: skip
    for title, data in results:
        two = sum(1 for a in data["attempts"] if a == 2)
        print(f"{title}: {two} calls with X-Attempts: 2, {len(data['attempts']) - two} with X-Attempts: 1")
        print(line("  POST /voice/calls (201)", data["create"]))
        for count in (1, 2):
            picked = [c for c, a in zip(data["create"], data["attempts"], strict=True) if a == count]
            if picked and len(picked) != len(data["create"]):
                print(line(f"    … of which X-Attempts: {count} ({len(picked)})", picked))
        print(line("  signed end webhook (200)", data["webhook"]))
        print(line("  webhook 200 -> usage row visible", data["usage"]))
        print(line("  round trip (create -> usage row)", data["total"]))
        print()
    calls = usage.get("byResource", {}).get("call", {})
    print(f"usage report of the first gateway, resource 'call': {calls.get('requests')} calls, providerCost {calls.get('providerCost')}, "
          f"finalCost {calls.get('finalCost')} (markup 20 %)")  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 200))

"""Billing survives ``kill -9``: a load generator against a real ``voice-gateway dev`` process, killed at random
moments, restarted on the same state directory — every response the client received in full has exactly one usage
row. Several repetitions, a second or two of load each, a seeded RNG for when to kill."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sqlite3
from pathlib import Path

import httpx

from tests.conftest import vendor_env
from tests.fakes.harness import FakeServer
from tests.test_local_server import ADMIN, LocalServer

REPETITIONS = int(os.environ.get("CRASH_REPETITIONS", "5"))
CONNECTIONS = 16
SEED = 20261202


async def _load(url: str, key: str, seen: dict[str, str], stop: asyncio.Event) -> None:
    """Requests until ``stop``; the request ids of responses received in full (status 200) go into ``seen``."""
    limits = httpx.Limits(max_connections=CONNECTIONS)
    async with httpx.AsyncClient(base_url=url, timeout=10, limits=limits) as client:

        async def worker(n: int) -> None:
            i = 0
            while not stop.is_set():
                i += 1
                streamed = (n + i) % 4 == 0
                path = "/voice/stream" if streamed else "/voice/synthesize"
                body = {"text": f"Request {n}.{i}. Two sentences.", "voiceConfig": {"format": "pcm"}}
                try:
                    r = await client.post(path, json=body, headers={"Authorization": f"Bearer {key}"})
                except httpx.HTTPError:
                    continue  # the server died under this request: the client never saw its end
                if r.status_code == 200:
                    seen[r.headers["x-request-id"]] = path

        await asyncio.gather(*(worker(n) for n in range(CONNECTIONS)))


def _rows(state_dir: Path) -> dict[str, int]:
    with sqlite3.connect(state_dir / "d1.sqlite") as conn:
        return dict(conn.execute("SELECT request_id, COUNT(*) FROM usage_records GROUP BY request_id").fetchall())


async def test_no_usage_row_is_lost_over_repeated_kill_9(
    tmp_path: Path, openai_fake: FakeServer, deepgram_fake: FakeServer
) -> None:
    rng = random.Random(SEED)
    env = {**vendor_env(openai_fake, deepgram_fake), "ADMIN_TOKEN": ADMIN,
           "PYTHONPATH": str(Path(__file__).resolve().parents[3] / "src")}  # fmt: skip
    seen: dict[str, str] = {}
    key = ""
    report = []
    for repetition in range(REPETITIONS):
        server = LocalServer(tmp_path, env)
        try:
            server.wait_ready()
            if repetition == 0:
                key = server.dev_key()
                async with httpx.AsyncClient(base_url=server.url) as admin:
                    ws = (await admin.get("/admin/workspaces", headers={"Authorization": f"Bearer {ADMIN}"})).json()
                    workspace_id = ws["workspaces"][0]["id"]
                    r = await admin.patch(f"/admin/workspaces/{workspace_id}", headers={"Authorization": f"Bearer {ADMIN}"},
                                          json={"limits": {"requestsPerMinute": 10**6, "requestsPerHour": 10**7,
                                                           "concurrentStreams": 1000}})  # fmt: skip
                    assert r.status_code == 200, r.text
            before = len(seen)
            stop = asyncio.Event()
            load = asyncio.ensure_future(_load(server.url, key, seen, stop))
            await asyncio.sleep(rng.uniform(0.4, 1.5))
            os.kill(server.process.pid, signal.SIGKILL)  # mid-load: requests in flight, rows being written
            server.process.wait(timeout=10)
            stop.set()
            await asyncio.wait_for(load, 15)
        finally:
            if server.process.poll() is None:
                server.process.kill()
            server.stop()
        rows = _rows(tmp_path)
        lost = [rid for rid in seen if rows.get(rid, 0) == 0]
        doubled = [rid for rid in seen if rows.get(rid, 0) > 1]
        report.append((repetition, len(seen) - before, len(lost)))
        assert not lost, f"repetition {repetition}: {len(lost)} of {len(seen)} paid responses have no usage row"
        assert not doubled, f"repetition {repetition}: {len(doubled)} responses billed twice"
    assert sum(n for _, n, _ in report) >= REPETITIONS * 10, f"too little load to mean anything: {report}"
    print("kill -9 repetitions (repetition, responses seen, rows lost):", report)

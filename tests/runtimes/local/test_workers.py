"""``voice-gateway dev --workers 2``: two real server processes on one port, driven over real HTTP, with the vendor
fakes as loopback servers. Limits stay exact across the processes and every admitted request is billed once."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import vendor_env
from tests.fakes.harness import FakeServer, Fault
from tests.test_local_server import ADMIN, LocalServer

ADMIN_HEADERS = {"Authorization": f"Bearer {ADMIN}"}
TEXT_200 = "Budget words. " * 14 + "Done now."  # ~200 characters: a few tenths of a cent on tts-1


@pytest.fixture
def server(tmp_path: Path, openai_fake: FakeServer, deepgram_fake: FakeServer) -> Iterator[LocalServer]:
    env = {**vendor_env(openai_fake, deepgram_fake), "ADMIN_TOKEN": ADMIN, "ATTEMPT_TIMEOUT_SECONDS": "10",
           "PYTHONPATH": str(Path(__file__).resolve().parents[3] / "src")}  # fmt: skip
    srv = LocalServer(tmp_path, env, extra_args=("--workers", "2"))
    try:
        srv.wait_ready()
        yield srv
    finally:
        srv.stop()


def _worker_pids(server: LocalServer) -> list[int]:
    children = Path(f"/proc/{server.process.pid}/task/{server.process.pid}/children")
    return [int(pid) for pid in children.read_text().split()] if children.exists() else []


def _cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


async def _workspace(client: httpx.AsyncClient, limits: dict[str, Any]) -> tuple[str, str]:
    r = await client.post("/admin/workspaces", json={"name": "w", "limits": limits}, headers=ADMIN_HEADERS)
    assert r.status_code == 201, r.text
    workspace_id = r.json()["id"]
    r = await client.post(f"/admin/workspaces/{workspace_id}/keys", headers=ADMIN_HEADERS)
    assert r.status_code == 201, r.text
    return workspace_id, r.json()["key"]


def _usage_rows(state_dir: Path, workspace_id: str) -> dict[str, int]:
    with sqlite3.connect(state_dir / "d1.sqlite") as conn:
        rows = conn.execute(
            "SELECT request_id, COUNT(*) FROM usage_records WHERE workspace_id = ? GROUP BY request_id", (workspace_id,)
        ).fetchall()
    return dict(rows)


async def _post_all(url: str, path: str, key: str, bodies: list[dict[str, Any]]) -> list[httpx.Response]:
    """All at once, each on its own connection (so the kernel spreads them over both workers)."""
    limits = httpx.Limits(max_connections=len(bodies), max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:
        headers = {"Authorization": f"Bearer {key}"}
        return list(await asyncio.gather(*(client.post(path, json=b, headers=headers) for b in bodies)))


async def test_two_workers_admit_exactly_the_limit_and_bill_each_admitted_request_once(
    server: LocalServer, tmp_path: Path
) -> None:
    pids = _worker_pids(server)
    assert len(pids) == 2
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as admin:
        workspace_id, key = await _workspace(admin, {"requestsPerMinute": 10, "requestsPerHour": 1000})
    before = [_cpu_ticks(pid) for pid in pids]
    responses = await _post_all(server.url, "/voice/synthesize", key, [{"text": f"hello {i}"} for i in range(100)])
    assert all(_cpu_ticks(pid) > ticks for pid, ticks in zip(pids, before)), "both workers served requests"
    statuses = [r.status_code for r in responses]
    assert (statuses.count(200), statuses.count(429)) == (10, 90), statuses
    assert {r.json()["error"]["type"] for r in responses if r.status_code == 429} == {"rate_limited"}
    admitted = {r.headers["x-request-id"] for r in responses if r.status_code == 200}
    rows = _usage_rows(tmp_path, workspace_id)  # rows are committed before each response ends
    assert rows == {request_id: 1 for request_id in admitted}


async def test_two_workers_hold_exactly_the_concurrent_stream_slots(
    server: LocalServer, openai_fake: FakeServer, deepgram_fake: FakeServer
) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as admin:
        _, key = await _workspace(admin, {"concurrentStreams": 3, "requestsPerMinute": 1000})
    for fake in (openai_fake, deepgram_fake):
        fake.state.always(Fault("slow", delay=1.5))  # every stream stays open while the others are admitted
    responses = await _post_all(server.url, "/voice/stream", key, [{"text": "One. Two."} for _ in range(10)])
    statuses = [r.status_code for r in responses]
    assert (statuses.count(200), statuses.count(429)) == (3, 7), statuses
    for fake in (openai_fake, deepgram_fake):
        fake.state.always(None)
    # The slots came back when the streams ended, in whichever worker they ran.
    responses = await _post_all(server.url, "/voice/stream", key, [{"text": "One. Two."} for _ in range(3)])
    assert [r.status_code for r in responses] == [200, 200, 200]


async def test_two_workers_cannot_overspend_a_budget_together(server: LocalServer) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as admin:
        _, key = await _workspace(admin, {"monthlyBudgetUsd": 0.01, "requestsPerMinute": 1000})
    responses = await _post_all(server.url, "/voice/synthesize", key, [{"text": TEXT_200} for _ in range(30)])
    costs = [float(r.headers["x-cost"]) for r in responses if r.status_code == 200]
    assert costs and sum(costs) <= 0.01 + 1e-9  # each request's own estimate is reserved with the authority
    assert all(r.json()["error"]["type"] == "quota_exceeded" for r in responses if r.status_code != 200)


def test_the_state_dir_is_set_up_once_for_all_workers(server: LocalServer, tmp_path: Path) -> None:
    banner = "\n".join(server.lines)
    assert banner.count("export VGW_KEY=") == 1 and "2 worker processes" in banner
    with sqlite3.connect(tmp_path / "d1.sqlite") as conn:
        assert conn.execute("SELECT COUNT(*) FROM workspaces").fetchone() == (1,)
        names = [r[0] for r in conn.execute("SELECT name FROM d1_migrations")]
    assert len(names) == len(set(names)) == len(os.listdir(Path(__file__).resolve().parents[3] / "migrations"))

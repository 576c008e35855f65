"""The limits authority of ``dev --workers N`` and its clients, over a real Unix socket: the authority runs on its
own thread and event loop (as the supervisor runs in its own process), each client is one worker's view."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from gateway.errors import QuotaExceeded, RateLimited
from gateway.limits.local import InProcessLimits
from gateway.limits.service import Ask
from gateway.ports import SystemClock
from gateway.store.usage import UsageStore
from runtimes.local.shared_limits import LimitsAuthority, SharedLimits
from runtimes.local.sqlite_db import SQLiteDatabase
from tests.runtimes.local.conftest import MIGRATIONS


@pytest.fixture
def authority(tmp_path: Path) -> Iterator[tuple[str, InProcessLimits]]:
    """The authority on its own loop in a thread; yields its socket path and its ledgers."""
    path = str(tmp_path / "limits.sock")
    ready = threading.Event()
    loop = asyncio.new_event_loop()
    state: dict[str, object] = {}

    async def start() -> None:
        db = SQLiteDatabase(":memory:")
        await db.apply_migrations(MIGRATIONS)
        limits = InProcessLimits(UsageStore(db), SystemClock(), restore=True)
        state.update(db=db, limits=limits, server=await LimitsAuthority(limits).serve(path))
        ready.set()

    thread = threading.Thread(target=lambda: (loop.run_until_complete(start()), loop.run_forever()), daemon=True)
    thread.start()
    assert ready.wait(10)
    yield path, state["limits"]  # type: ignore[misc]

    async def stop() -> None:
        state["server"].close()  # type: ignore[attr-defined]
        await state["db"].close()  # type: ignore[attr-defined]

    asyncio.run_coroutine_threadsafe(stop(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.close()


@pytest.fixture
async def workers(authority: tuple[str, InProcessLimits]) -> AsyncIterator[list[SharedLimits]]:
    clients = [SharedLimits(authority[0], SystemClock()) for _ in range(2)]
    for client in clients:
        await client.connect()
    yield clients
    for client in clients:
        await client.close()


def ask(n: int, limits: dict[str, object], *, stream: bool = False, estimate: int = 0) -> Ask:
    return Ask(workspace_id="ws", key_id="k", request_id=f"req-{n}", limits=dict(limits), stream=stream,
               estimate_micros=estimate)  # fmt: skip


async def test_two_workers_share_one_rate_window(workers: list[SharedLimits]) -> None:
    limits = {"requestsPerMinute": 5}
    outcomes = await asyncio.gather(*(workers[n % 2].admit(ask(n, limits)) for n in range(40)), return_exceptions=True)
    admitted = [o for o in outcomes if not isinstance(o, BaseException)]
    assert len(admitted) == 5
    assert all(isinstance(o, RateLimited) for o in outcomes if isinstance(o, BaseException))
    refused = next(o for o in outcomes if isinstance(o, RateLimited))
    assert refused.retry_after is not None and refused.retry_after >= 1


async def test_a_refunded_permit_is_given_back_to_every_worker(workers: list[SharedLimits]) -> None:
    limits = {"requestsPerMinute": 1}
    ticket = await workers[0].admit(ask(1, limits))
    ticket.release(status=422)  # refused as invalid before any vendor was called
    await asyncio.sleep(0.05)  # the release is a one-way message: let the authority read it
    await workers[1].admit(ask(2, limits))
    with pytest.raises(RateLimited):
        await workers[0].admit(ask(3, limits))


async def test_stream_slots_held_by_a_worker_that_dies_come_back(
    authority: tuple[str, InProcessLimits], workers: list[SharedLimits]
) -> None:
    limits = {"concurrentStreams": 1, "requestsPerMinute": 100}
    await workers[0].admit(ask(1, limits, stream=True))
    with pytest.raises(RateLimited):
        await workers[1].admit(ask(2, limits, stream=True))
    await workers[0].close()  # the worker process is gone without releasing
    for _ in range(100):
        if authority[1]._ledgers["ws"].streams == 0:
            break
        await asyncio.sleep(0.01)
    ticket = await workers[1].admit(ask(3, limits, stream=True))
    ticket.release(status=200)


async def test_budget_reservations_are_checked_by_the_authority(workers: list[SharedLimits]) -> None:
    limits = {"monthlyBudgetUsd": 0.01, "requestsPerMinute": 100}  # 10,000 micro-dollars
    first = await workers[0].admit(ask(1, limits))
    first.reserve_at_least(6_000)
    second = await workers[1].admit(ask(2, limits))
    with pytest.raises(QuotaExceeded):
        second.reserve_at_least(6_000)  # only 4,000 left while the first request holds its reservation
    first.release(status=200)
    await asyncio.sleep(0.05)
    second.reserve_at_least(6_000)

"""Background work on the local runtime: tracked until done, failures logged (never raised), drain waits."""

from __future__ import annotations

import asyncio
import gc
import logging

import pytest

from runtimes.local.tasks import LocalBackgroundTasks


async def test_drain_waits_for_everything_including_work_spawned_while_draining() -> None:
    tasks = LocalBackgroundTasks()
    done: list[str] = []
    release = asyncio.Event()

    async def child() -> None:
        await asyncio.sleep(0.01)
        done.append("child")

    async def parent() -> None:
        await release.wait()
        tasks.spawn(child())  # spawned after drain() has started
        done.append("parent")

    tasks.spawn(parent())
    drain = asyncio.create_task(tasks.drain())
    await asyncio.sleep(0)
    assert not drain.done()
    release.set()
    await asyncio.wait_for(drain, timeout=2)
    assert done == ["parent", "child"]
    assert tasks.pending == 0


async def test_spawned_work_is_kept_alive_without_a_caller_reference() -> None:
    tasks = LocalBackgroundTasks()
    done = asyncio.Event()

    async def work() -> None:
        await asyncio.sleep(0.01)
        gc.collect()
        done.set()

    tasks.spawn(work())
    gc.collect()
    await asyncio.wait_for(done.wait(), timeout=2)
    await tasks.drain()


async def test_failures_are_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    tasks = LocalBackgroundTasks()
    ok: list[int] = []

    async def boom() -> None:
        raise RuntimeError("usage write failed")

    async def fine() -> None:
        ok.append(1)

    with caplog.at_level(logging.ERROR, logger="gateway.tasks"):
        tasks.spawn(boom())
        tasks.spawn(fine())
        await tasks.drain()  # does not raise

    assert ok == [1]
    failures = [r for r in caplog.records if r.name == "gateway.tasks"]
    assert len(failures) == 1
    assert failures[0].levelno == logging.ERROR
    assert failures[0].exc_info is not None and isinstance(failures[0].exc_info[1], RuntimeError)


async def test_a_spawned_task_may_drain_without_waiting_for_itself() -> None:
    tasks = LocalBackgroundTasks()
    order: list[str] = []

    async def sibling() -> None:
        await asyncio.sleep(0.01)
        order.append("sibling")

    async def drainer() -> None:
        await tasks.drain()
        order.append("drainer")

    tasks.spawn(sibling())
    tasks.spawn(drainer())
    await asyncio.wait_for(tasks.drain(), timeout=2)
    assert order == ["sibling", "drainer"]


async def test_cancelled_work_is_not_reported_as_a_failure(caplog: pytest.LogCaptureFixture) -> None:
    tasks = LocalBackgroundTasks()

    async def cancelled() -> None:
        raise asyncio.CancelledError

    with caplog.at_level(logging.ERROR, logger="gateway.tasks"):
        tasks.spawn(cancelled())
        await tasks.drain()
    assert [r for r in caplog.records if r.name == "gateway.tasks"] == []

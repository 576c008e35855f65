"""The write-behind recorder: rows from requests finishing together become one database batch, nothing is lost when
a batch fails, and an explicit flush does not wait out the coalescing delay."""

from __future__ import annotations

import asyncio
import time

from gateway.ports import SystemClock
from gateway.recorder import FLUSH_AT_RECORDS, FLUSH_DELAY_SECONDS, Recorder
from gateway.store.failovers import FailoverEvent
from runtimes.local.tasks import LocalBackgroundTasks


class CountingDb:
    def __init__(self, fail_first: int = 0) -> None:
        self.batches: list[int] = []
        self.fail_first = fail_first

    async def batch(self, statements):  # type: ignore[no-untyped-def]
        if self.fail_first:
            self.fail_first -= 1
            raise RuntimeError("database unavailable")
        self.batches.append(len(statements))
        return []


def event(n: int) -> FailoverEvent:
    return FailoverEvent(f"req_{n}", "ws", "openai", "deepgram", "timeout", 5, "switched", 0)


async def test_records_arriving_together_are_written_in_one_batch() -> None:
    db, tasks = CountingDb(), LocalBackgroundTasks()
    recorder = Recorder(db, tasks, SystemClock())  # type: ignore[arg-type]
    for n in range(30):
        recorder.record_failover(event(n))
        await asyncio.sleep(0)
    await tasks.drain()
    assert db.batches == [30] and recorder.pending == 0


async def test_a_full_buffer_is_written_without_waiting_for_the_delay() -> None:
    db, tasks = CountingDb(), LocalBackgroundTasks()
    recorder = Recorder(db, tasks, SystemClock())  # type: ignore[arg-type]
    started = time.monotonic()
    for n in range(FLUSH_AT_RECORDS):
        recorder.record_failover(event(n))
    await tasks.drain()
    assert sum(db.batches) == FLUSH_AT_RECORDS
    assert time.monotonic() - started < FLUSH_DELAY_SECONDS


async def test_an_explicit_flush_wakes_the_scheduled_one_and_a_failed_batch_is_kept() -> None:
    db, tasks = CountingDb(fail_first=1), LocalBackgroundTasks()
    recorder = Recorder(db, tasks, SystemClock())  # type: ignore[arg-type]
    recorder.record_failover(event(1))
    try:
        await recorder.flush()
    except RuntimeError:
        pass
    assert recorder.pending == 1  # the failed batch went back into the buffer
    started = time.monotonic()
    assert await recorder.flush() == 1
    await tasks.drain()  # the scheduled flush was woken: draining does not wait out its delay
    assert time.monotonic() - started < FLUSH_DELAY_SECONDS and db.batches == [1]


# -- durable before the end of the response (the local runtime) ----------------------------------------------------
class SlowDb(CountingDb):
    """Each batch takes a while, like a commit under load: rows of requests arriving meanwhile gather behind it."""

    async def batch(self, statements):  # type: ignore[no-untyped-def]
        await asyncio.sleep(0.01)
        return await super().batch(statements)


async def test_durable_returns_once_the_requests_rows_are_written() -> None:
    db, tasks = CountingDb(), LocalBackgroundTasks()
    recorder = Recorder(db, tasks, SystemClock(), hold_responses=True)  # type: ignore[arg-type]
    recorder.record_failover(event(1))
    recorder.record_failover(event(1))
    await recorder.durable("req_1")
    assert db.batches == [2] and recorder.pending == 0
    await recorder.durable("req_1")  # nothing left to wait for
    await recorder.durable("req_never_recorded")
    assert db.batches == [2]
    await tasks.drain()


async def test_concurrent_requests_share_commits() -> None:
    db, tasks = SlowDb(), LocalBackgroundTasks()
    recorder = Recorder(db, tasks, SystemClock(), hold_responses=True)  # type: ignore[arg-type]

    async def request(n: int) -> None:
        await asyncio.sleep(n % 5 * 0.002)
        recorder.record_failover(event(n))
        await recorder.durable(f"req_{n}")

    await asyncio.gather(*(request(n) for n in range(100)))
    assert sum(db.batches) == 100
    assert len(db.batches) <= 10, f"{len(db.batches)} commits for 100 requests: no group commit"
    await tasks.drain()


async def test_a_request_whose_rows_cannot_be_written_is_not_durable() -> None:
    from gateway.recorder import NotDurable

    db, tasks = CountingDb(fail_first=1), LocalBackgroundTasks()
    recorder = Recorder(db, tasks, SystemClock(), hold_responses=True)  # type: ignore[arg-type]
    recorder.record_failover(event(1))
    try:
        await recorder.durable("req_1")
    except NotDurable:
        pass
    else:
        raise AssertionError("durable() returned although the batch failed")
    assert recorder.pending == 1  # kept for the background retry
    await tasks.drain()
    assert recorder.pending == 0 and db.batches == [1]


async def test_write_behind_does_not_hold_responses() -> None:
    db, tasks = SlowDb(), LocalBackgroundTasks()
    recorder = Recorder(db, tasks, SystemClock())  # type: ignore[arg-type]
    recorder.record_failover(event(1))
    await recorder.durable("req_1")
    assert db.batches == [] and recorder.pending == 1  # left to the background flush (waitUntil on Workers)
    await tasks.drain()
    assert db.batches == [1]


async def test_every_waiter_of_a_failed_batch_is_told_and_a_gone_one_does_not_hold_the_others() -> None:
    from gateway.recorder import NotDurable

    db, tasks = CountingDb(fail_first=1), LocalBackgroundTasks()
    recorder = Recorder(db, tasks, SystemClock(), hold_responses=True)  # type: ignore[arg-type]
    for n in range(3):
        recorder.record_failover(event(n))
    waiting = [asyncio.ensure_future(recorder.durable(f"req_{n}")) for n in range(3)]
    await asyncio.sleep(0)
    waiting[0].cancel()  # its client went away while the batch was being written
    results = await asyncio.gather(*waiting, return_exceptions=True)
    assert isinstance(results[0], asyncio.CancelledError)
    assert all(isinstance(r, NotDurable) for r in results[1:])
    recorder.record_failover(event(9))
    await recorder.durable("req_9")  # the next batch writes the kept rows and the new one
    assert db.batches == [4] and recorder.pending == 0
    await tasks.drain()


async def test_no_waiter_returns_before_its_own_rows_are_committed() -> None:
    db, tasks = SlowDb(), LocalBackgroundTasks()
    recorder = Recorder(db, tasks, SystemClock(), hold_responses=True)  # type: ignore[arg-type]
    early: list[str] = []

    async def request(n: int) -> None:
        await asyncio.sleep(n % 7 * 0.001)
        recorder.record_failover(event(n))
        before = sum(db.batches)
        await recorder.durable(f"req_{n}")
        if sum(db.batches) == before:  # nothing was committed since this request recorded its row
            early.append(f"req_{n}")

    await asyncio.gather(*(request(n) for n in range(60)))
    assert early == [] and sum(db.batches) == 60
    await tasks.drain()

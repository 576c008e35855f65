"""The request log's stdout lines are written in batches: many lines, one write; nothing left behind."""

from __future__ import annotations

import asyncio
import io

import pytest

from runtimes.local import log_lines
from runtimes.local.log_lines import BatchedLines


class CountingOut(io.StringIO):
    writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)


@pytest.fixture
def out() -> CountingOut:
    return CountingOut()


async def test_lines_of_many_requests_leave_in_one_write(out: CountingOut) -> None:
    lines = BatchedLines(lambda: out)
    for n in range(20):
        lines.write(f'{{"n":{n}}}')
    assert out.writes == 0  # nothing yet: gathered
    await asyncio.sleep(log_lines.FLUSH_SECONDS * 2)
    assert out.writes == 1
    assert out.getvalue().splitlines() == [f'{{"n":{n}}}' for n in range(20)]


async def test_a_full_batch_is_written_at_once(out: CountingOut) -> None:
    lines = BatchedLines(lambda: out)
    for n in range(log_lines.MAX_PENDING):
        lines.write(str(n))
    assert out.writes == 1 and len(out.getvalue().splitlines()) == log_lines.MAX_PENDING


async def test_flush_writes_what_is_pending_and_cancels_the_timer(out: CountingOut) -> None:
    lines = BatchedLines(lambda: out)
    lines.write("last words")
    lines.flush()  # what shutdown does
    assert out.getvalue() == "last words\n"
    await asyncio.sleep(log_lines.FLUSH_SECONDS * 2)
    assert out.writes == 1


def test_without_an_event_loop_a_line_is_written_at_once(out: CountingOut) -> None:
    BatchedLines(lambda: out).write("no loop here")
    assert out.getvalue() == "no loop here\n"

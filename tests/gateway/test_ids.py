"""Request and row ids: unique, and ordered by time (tables keyed by them append instead of inserting at random)."""

from __future__ import annotations

import time

from gateway.ids import new_request_id, new_row_id


def test_ids_made_later_sort_later_and_never_repeat() -> None:
    first = [new_request_id() for _ in range(1000)]
    time.sleep(0.002)
    later = [new_request_id() for _ in range(1000)]
    assert len(set(first + later)) == 2000
    assert max(first) < min(later)
    assert all(i.startswith("req_") and len(i) == 28 for i in first)


def test_row_ids_carry_their_prefix_and_the_time() -> None:
    before = int(time.time() * 1000)
    row = new_row_id("use")
    assert row.startswith("use_") and before <= int(row[4:16], 16) <= int(time.time() * 1000)

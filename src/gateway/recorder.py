"""Write-behind for what happens after the response: usage rows, failover events and request-log rows, written in
batches.

The request path only appends to an in-memory buffer; a background task (``ctx.waitUntil`` on Workers) flushes
everything pending in one atomic ``batch``. A failed flush puts its rows back and tries again, so nothing is lost
while the process lives; ``drain`` flushes on shutdown. Listeners in ``on_usage`` see each row as it is recorded
(the limits service settles a request's reserved budget with its real cost there; listeners never await).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from gateway.ports import BackgroundTasks, Clock, Database, Statement
from gateway.store.failovers import FailoverEvent, failover_statement
from gateway.store.request_log import RequestRow, request_statement
from gateway.store.usage import UsageRow, period_statements, usage_statement

log = logging.getLogger("gateway.recorder")

MAX_STATEMENTS_PER_BATCH = 200
# Coalesce rows into one batch: every flush is a database round trip (a thread hop locally, a D1 call on Workers),
# so under load one batch per ~100 ms (or per FLUSH_AT_RECORDS rows) instead of one per request.
FLUSH_DELAY_SECONDS = 0.1
FLUSH_AT_RECORDS = 100
RETRY_DELAYS = (0.05, 0.2, 1.0, 5.0)
REQUESTS_PER_BATCH = 100  # request-log rows per batch, on top of the usage/failover share


class Recorder:
    def __init__(self, db: Database, tasks: BackgroundTasks, clock: Clock) -> None:
        self.db = db
        self.tasks = tasks
        self.clock = clock
        self._usage: list[UsageRow] = []
        self._failovers: list[FailoverEvent] = []
        self._requests: list[RequestRow] = []
        self._flush_scheduled = False
        self._wake = asyncio.Event()  # cuts the scheduled flush's wait short (a full buffer, or an explicit flush)
        self._known_periods: set[tuple[str, str]] = set()
        self._lock = asyncio.Lock()
        self.on_usage: list[Callable[[UsageRow], None]] = []

    @property
    def pending(self) -> int:
        return len(self._usage) + len(self._failovers) + len(self._requests)

    def record_usage(self, row: UsageRow) -> None:
        self._usage.append(row)
        self._schedule()
        for listener in self.on_usage:
            try:
                listener(row)
            except Exception:  # the row is safe in the buffer; a listener's bug must not fail the request
                log.exception("usage listener failed")

    def record_failover(self, event: FailoverEvent) -> None:
        self._failovers.append(event)
        self._schedule()

    def record_request(self, row: RequestRow) -> None:
        """The request log's row for a finished request (same batches, same retries as the usage rows)."""
        self._requests.append(row)
        self._schedule()

    def _schedule(self) -> None:
        if self.pending >= FLUSH_AT_RECORDS:
            self._wake.set()
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self.tasks.spawn(self._flush_later())

    async def _flush_later(self) -> None:
        try:
            await asyncio.wait_for(self._wake.wait(), FLUSH_DELAY_SECONDS)
        except TimeoutError:
            pass
        self._wake.clear()
        self._flush_scheduled = False
        for delay in (*RETRY_DELAYS, None):
            try:
                await self._write()
                return
            except Exception:
                log.exception("usage flush failed; %d records kept for retry", self.pending)
                if delay is None:
                    return
                await asyncio.sleep(delay)

    async def flush(self) -> int:
        """Write everything pending now. Returns how many records were written."""
        if self._flush_scheduled:
            self._wake.set()  # the scheduled flush waiting out its delay has nothing left to wait for
        return await self._write()

    async def _write(self) -> int:
        async with self._lock:
            written = 0
            while self._usage or self._failovers or self._requests:
                usage, failovers = self._take()
                requests, self._requests = self._requests[:REQUESTS_PER_BATCH], self._requests[REQUESTS_PER_BATCH:]
                statements: list[Statement] = []
                new_periods = {(r.workspace_id, r.billing_period) for r in usage} - self._known_periods
                now_ms = int(self.clock.time() * 1000)
                for workspace_id, period in sorted(new_periods):
                    statements.extend(period_statements(workspace_id, period, now_ms))
                statements.extend(usage_statement(r) for r in usage)
                statements.extend(failover_statement(e) for e in failovers)
                statements.extend(request_statement(r) for r in requests)
                try:
                    await self.db.batch(statements)
                except Exception:
                    self._usage[:0] = usage
                    self._failovers[:0] = failovers
                    self._requests[:0] = requests
                    raise
                self._known_periods |= new_periods
                written += len(usage) + len(failovers) + len(requests)
            return written

    def _take(self) -> tuple[list[UsageRow], list[FailoverEvent]]:
        room = MAX_STATEMENTS_PER_BATCH // 2
        usage, self._usage = self._usage[:room], self._usage[room:]
        failovers, self._failovers = self._failovers[:room], self._failovers[room:]
        return usage, failovers

"""In-process limits (the local runtime, one event loop): every request is a one-permit lease of the same
:class:`~gateway.limits.ledger.Ledger` the Durable Object uses. The month-to-date spend is loaded from
``usage_records`` once per workspace and month, then kept in memory; after that admission awaits nothing, so check
and reserve are one atomic step.

The rate windows survive a restart: each admission (and each refund) is written to ``rate_admissions`` through the
recorder — with the request's usage row, so it is committed before the response ends — and a process reads the last
hour's admissions back the first time it admits for a workspace. Windows run on the wall clock for that reason.
"""

from __future__ import annotations

import asyncio

from gateway.limits.baseline import Baselines
from gateway.limits.ledger import Ledger
from gateway.limits.service import Ask, Ticket, audio_ms_of, refused
from gateway.ports import Clock
from gateway.recorder import Recorder
from gateway.store.admissions import Admission, prune_statement, recent_admissions
from gateway.store.usage import UsageRow, UsageStore, month_of

HOLD_SECONDS = 24 * 3600.0  # tickets are always released by the middleware; this only bounds a leaked one
PRUNE_EVERY_SECONDS = 300.0  # admissions older than the hour window are deleted this often


class InProcessLimits:
    admission_estimate = 0  # nothing reserved at admission: Caller.reserve_budget reserves the real estimate

    def __init__(
        self, usage: UsageStore, clock: Clock, recorder: Recorder | None = None, *, restore: bool | None = None
    ) -> None:
        self.baselines = Baselines(usage)
        self.usage = usage
        self.clock = clock
        self.recorder = recorder  # None: admissions are not written (memory only, or another process writes them)
        # Read the last hour's admissions back (by default when this process writes them). The authority of
        # ``dev --workers N`` restores without writing: its worker processes write the rows.
        self.restore = recorder is not None if restore is None else restore
        self._ledgers: dict[str, Ledger] = {}
        self._restoring: dict[str, asyncio.Future[Ledger]] = {}
        self._open: dict[str, Ticket] = {}
        self._pruned_at = 0.0

    async def _ledger(self, workspace_id: str, period: str) -> Ledger:
        ledger = self._ledgers.get(workspace_id)
        if ledger is None:
            restoring = self._restoring.get(workspace_id)
            if restoring is None:  # the first admission for this workspace in this process: one loader
                restoring = self._restoring[workspace_id] = asyncio.ensure_future(self._restore(workspace_id))
            ledger = await asyncio.shield(restoring)
        if ledger.period != period:
            spent, audio_ms = await self.baselines.get(workspace_id, period)
            ledger.open_period(period, spent, audio_ms)
        return ledger

    async def _restore(self, workspace_id: str) -> Ledger:
        """A new ledger with the admissions of the last hour (from before a restart) already in its windows."""
        ledger = Ledger()
        if self.restore:
            for key_id, admitted_at in await recent_admissions(self.usage.db, workspace_id, self._now_ms()):
                ledger.restore_admission(admitted_at / 1000, key_id)
        return self._ledgers.setdefault(workspace_id, ledger)

    def _now_ms(self) -> int:
        return int(self.clock.time() * 1000)

    def _period(self, now_ms: int) -> tuple[str, int]:
        """(the month of ``now_ms``, its end in epoch ms)."""
        period, _, end = month_of(now_ms)
        return period, end

    async def admit(self, ask: Ask) -> Ticket:
        now_ms = int(self.clock.time() * 1000)
        period, month_end = self._period(now_ms)
        ledger = await self._ledger(ask.workspace_id, period)
        # From here to the return nothing awaits: the check and the reservation are one step.
        now = self.clock.time()  # wall clock: admissions restored after a restart share the time base
        grant = ledger.acquire(
            now,
            {
                "limits": ask.limits,
                "period": period,
                "keyId": ask.key_id,
                "permits": 1,
                "minPermits": 1,
                "budgetMicros": ask.estimate_micros,
                "minBudgetMicros": ask.estimate_micros,  # see admission_estimate
                "audioMs": ask.audio_estimate_ms,
                "minAudioMs": ask.audio_estimate_ms,
                "slots": 1 if ask.stream else 0,
                "permitTtl": 0.0,
                "holdTtl": HOLD_SECONDS,
                "quotaRetryAfter": (month_end - now_ms) / 1000,
            },
        )
        if not grant["ok"]:
            raise refused(grant)
        ticket = Ticket(ask, self, lease=grant["lease"]["id"])
        self._open[ask.request_id] = ticket
        if self.recorder is not None:
            self.recorder.record_admission(Admission(ask.request_id, ask.workspace_id, ask.key_id, int(now * 1000)))
            if now - self._pruned_at >= PRUNE_EVERY_SECONDS:
                self._pruned_at = now
                self.recorder.record_statement(prune_statement(int(now * 1000)))
        return ticket

    def charge(self, row: UsageRow) -> None:
        self.charge_cost(row.workspace_id, row.request_id, row.final_cost_micros, audio_ms_of(row), row.billing_period)

    def charge_cost(self, workspace_id: str, request_id: str, micros: int, audio_ms: int, period: str) -> None:
        """``charge`` with the row's few fields that matter (what a worker process sends the authority)."""
        ledger = self._ledgers.get(workspace_id)
        if ledger is None:
            return  # nothing admitted here for this workspace: its spend will be loaded from usage_records
        ticket = self._open.get(request_id)
        if ticket is not None and ticket.ask.workspace_id == workspace_id:
            ticket.charged_micros += micros
            ticket.charged_audio_ms += audio_ms
            ledger.charge(ticket.lease, micros, audio_ms)
        else:
            ledger.charge(None, micros, audio_ms, period)

    def release(self, ticket: Ticket) -> None:
        if self._open.get(ticket.request_id) is ticket:
            del self._open[ticket.request_id]
        ledger = self._ledgers.get(ticket.ask.workspace_id)
        if ledger is not None:
            ledger.release(ticket.lease, unused_permits=1 if ticket.refunded else 0)
        if ticket.refunded and self.recorder is not None:
            ask = ticket.ask
            self.recorder.record_admission(Admission(ask.request_id, ask.workspace_id, ask.key_id, 0, refunded=True))

    def reserve_at_least(self, ticket: Ticket, micros: int) -> None:
        ledger = self._ledgers.get(ticket.ask.workspace_id)
        if ledger is None:
            return
        now_ms = self._now_ms()
        _, month_end = self._period(now_ms)
        grant = ledger.reserve_at_least(ticket.lease, micros, ticket.ask.limits, (month_end - now_ms) / 1000)
        if not grant["ok"]:
            raise refused(grant)

    def open_ticket(self, request_id: str) -> Ticket | None:
        return self._open.get(request_id)

    def vendor_called(self, request_id: str) -> None:
        ticket = self._open.get(request_id)
        if ticket is not None:
            ticket.vendor_called = True

"""In-process limits (the local runtime, one event loop): every request is a one-permit lease of the same
:class:`~gateway.limits.ledger.Ledger` the Durable Object uses. The month-to-date spend is loaded from
``usage_records`` once per workspace and month, then kept in memory; after that admission awaits nothing, so check
and reserve are one atomic step."""

from __future__ import annotations

from gateway.limits.baseline import Baselines
from gateway.limits.ledger import Ledger
from gateway.limits.service import Ask, Ticket, audio_ms_of, refused
from gateway.ports import Clock
from gateway.store.usage import UsageRow, UsageStore, period_bounds, period_of

HOLD_SECONDS = 24 * 3600.0  # tickets are always released by the middleware; this only bounds a leaked one


class InProcessLimits:
    def __init__(self, usage: UsageStore, clock: Clock) -> None:
        self.baselines = Baselines(usage)
        self.clock = clock
        self._ledgers: dict[str, Ledger] = {}
        self._open: dict[str, Ticket] = {}
        self._month: tuple[str, int, int] = ("", 0, 0)  # (period, start ms, end ms) of the last admission's month

    async def _ledger(self, workspace_id: str, period: str) -> Ledger:
        ledger = self._ledgers.get(workspace_id)
        if ledger is None or ledger.period != period:
            spent, audio_ms = await self.baselines.get(workspace_id, period)
            ledger = self._ledgers.setdefault(workspace_id, Ledger())
            ledger.open_period(period, spent, audio_ms)
        return ledger

    def _period(self, now_ms: int) -> tuple[str, int]:
        """(the month of ``now_ms``, its end in epoch ms): date arithmetic only when the month changes, not on every
        admission (it cost a quarter of one)."""
        period, start, end = self._month
        if not start <= now_ms < end:
            period = period_of(now_ms)
            start, end = period_bounds(period)
            self._month = (period, start, end)
        return period, end

    async def admit(self, ask: Ask) -> Ticket:
        now_ms = int(self.clock.time() * 1000)
        period, month_end = self._period(now_ms)
        ledger = await self._ledger(ask.workspace_id, period)
        # From here to the return nothing awaits: the check and the reservation are one step.
        grant = ledger.acquire(
            self.clock.monotonic(),
            {
                "limits": ask.limits, "period": period, "keyId": ask.key_id, "permits": 1, "minPermits": 1,
                "budgetMicros": ask.estimate_micros, "minBudgetMicros": ask.estimate_micros,
                "audioMs": ask.audio_estimate_ms, "minAudioMs": ask.audio_estimate_ms,
                "slots": 1 if ask.stream else 0, "permitTtl": 0.0, "holdTtl": HOLD_SECONDS,
                "quotaRetryAfter": (month_end - now_ms) / 1000,
            },
        )
        if not grant["ok"]:
            raise refused(grant)
        ticket = Ticket(ask, self, lease=grant["lease"]["id"])
        self._open[ask.request_id] = ticket
        return ticket

    def charge(self, row: UsageRow) -> None:
        ledger = self._ledgers.get(row.workspace_id)
        if ledger is None:
            return  # nothing admitted here for this workspace: its spend will be loaded from usage_records
        ticket = self._open.get(row.request_id)
        audio_ms = audio_ms_of(row)
        if ticket is not None and ticket.ask.workspace_id == row.workspace_id:
            ticket.charged_micros += row.final_cost_micros
            ticket.charged_audio_ms += audio_ms
            ledger.charge(ticket.lease, row.final_cost_micros, audio_ms)
        else:
            ledger.charge(None, row.final_cost_micros, audio_ms, row.billing_period)

    def release(self, ticket: Ticket) -> None:
        if self._open.get(ticket.request_id) is ticket:
            del self._open[ticket.request_id]
        ledger = self._ledgers.get(ticket.ask.workspace_id)
        if ledger is not None:
            ledger.release(ticket.lease, unused_permits=1 if ticket.refunded else 0)

    def vendor_called(self, request_id: str) -> None:
        ticket = self._open.get(request_id)
        if ticket is not None:
            ticket.vendor_called = True

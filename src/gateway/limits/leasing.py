"""Limits on Workers: the per-workspace ``WorkspaceLimiter`` Durable Object is the authority, and isolates lease
blocks of permits from it so that a request costs no round trip.

Per (workspace, key) an isolate holds at most one open lease: up to ``lease_permits`` request permits usable for
``permit_ttl`` seconds (counted by the object as if used at the end of that time, see :mod:`.windows`), a slice of
the remaining budget (``lease_permits`` × the estimate, at most what is left) and of the audio quota. Requests take
from it locally. A lease that is exhausted, expired or too small for the next estimate is retired; once its last
request has ended it goes back to the object with its unused permits and the real cost its requests recorded.
Concurrent requests that find no usable lease wait for one acquire instead of each making their own; a refusal is
remembered briefly (at most ``REFUSAL_CACHE_SECONDS``) so that overload costs no round trip per refused request.

Streams and WebSockets are long, so each takes its own lease with one permit and one concurrency slot (one RPC when
it opens, one when it ends) and holds it until it ends.

The object never grants more than the limits in total, so admission is exact; it may be conservative, since permits
sitting in another isolate's lease are not available until they are used or returned.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from gateway.limits.baseline import Baselines
from gateway.limits.service import DEFAULT_ESTIMATE_MICROS, Ask, Ticket, audio_ms_of, refused
from gateway.ports import BackgroundTasks, Clock
from gateway.store.usage import UsageRow, UsageStore, period_bounds, period_of

log = logging.getLogger("gateway.limits")

LEASE_PERMITS = 8
PERMIT_TTL_SECONDS = 2.0
HOLD_SECONDS = 120.0  # after this the object reclaims a lease's budget (its isolate is presumed dead)
STREAM_HOLD_SECONDS = 3600.0
AUDIO_SLICE_MS = 60_000
REFUSAL_CACHE_SECONDS = 1.0


class LimiterStub(Protocol):
    async def acquire(self, request: dict[str, Any]) -> dict[str, Any]: ...

    async def release(self, lease: dict[str, Any]) -> None: ...


StubFor = Callable[[str], LimiterStub]  # workspace id → the RPC stub of its WorkspaceLimiter object


@dataclass(eq=False)
class HeldLease:
    workspace_id: str
    key_id: str | None
    grant: dict[str, Any]
    usable_until: (
        float  # on this isolate's monotonic clock, measured from *before* the RPC: never later than the object's
    )
    permits_left: int
    budget_left: int | None
    audio_left: int | None
    shared: bool = True  # False: a stream's own lease
    spent_micros: int = 0
    audio_ms: int = 0
    open_tickets: int = 0
    retired: bool = False
    returned: bool = False

    def can_take(self, now: float, ask: Ask) -> bool:
        return (
            not self.retired
            and now < self.usable_until
            and self.permits_left >= 1
            and (self.budget_left is None or self.budget_left >= ask.estimate_micros)
            and (self.audio_left is None or (self.audio_left > 0 and self.audio_left >= ask.audio_estimate_ms))
        )

    def take(self, ask: Ask) -> None:
        self.permits_left -= 1
        self.open_tickets += 1
        if self.budget_left is not None:
            self.budget_left -= ask.estimate_micros
        if self.audio_left is not None:
            self.audio_left -= ask.audio_estimate_ms


class LeasingLimits:
    admission_estimate = DEFAULT_ESTIMATE_MICROS  # budget slices are sized by it (see reserve_at_least)

    def __init__(
        self,
        stub_for: StubFor,
        usage: UsageStore,
        clock: Clock,
        tasks: BackgroundTasks,
        *,
        lease_permits: int = LEASE_PERMITS,
        permit_ttl: float = PERMIT_TTL_SECONDS,
        hold_seconds: float = HOLD_SECONDS,
    ) -> None:
        self.stub_for = stub_for
        self.baselines = Baselines(usage)
        self.clock = clock
        self.tasks = tasks
        self.lease_permits = lease_permits
        self.permit_ttl = permit_ttl
        self.hold_seconds = hold_seconds
        self._held: dict[tuple[str, str | None], HeldLease] = {}
        self._locks: dict[tuple[str, str | None], asyncio.Lock] = {}
        self._refused: dict[tuple[str, str | None], tuple[float, dict[str, Any]]] = {}
        self._open: dict[str, Ticket] = {}
        self.rpc_calls = 0  # acquire + release round trips (observable: tests and the benchmark)

    # -- admission -----------------------------------------------------------------------------------------------------
    async def admit(self, ask: Ask) -> Ticket:
        if ask.stream:
            self._check_refused(ask)
            lease = await self._acquire(ask, permits=1, slots=1, hold=STREAM_HOLD_SECONDS, shared=False)
            return self._ticket(lease, ask)
        pair = (ask.workspace_id, ask.key_id)
        held = self._held.get(pair)
        if held is not None and held.can_take(self.clock.monotonic(), ask):
            return self._ticket(held, ask)  # the hot path: no I/O
        self._check_refused(ask)
        # One acquire at a time per key: whoever waited re-checks first, and usually finds the new lease.
        async with self._locks.setdefault(pair, asyncio.Lock()):
            held = self._held.get(pair)
            if held is not None and held.can_take(self.clock.monotonic(), ask):
                return self._ticket(held, ask)
            self._check_refused(ask)
            returning = None
            if held is not None:
                held.retired = True
                if held.open_tickets == 0:  # give it back in the same round trip, before the new grant
                    returning = self._take_back(held)
            lease = await self._acquire(
                ask, permits=self.lease_permits, slots=0, hold=self.hold_seconds, returning=returning
            )
            self._held[pair] = lease
            self.tasks.spawn(self._retire_when_expired(lease))
            return self._ticket(lease, ask)  # a lease always covers the request it was asked for

    def _check_refused(self, ask: Ask) -> None:
        cached = self._refused.get((ask.workspace_id, ask.key_id))
        now = self.clock.monotonic()
        if cached is not None and cached[0] > now:
            raise refused(cached[1], max(cached[0] - now, float(cached[1].get("retryAfter") or 0)))

    def _ticket(self, lease: HeldLease, ask: Ask) -> Ticket:
        lease.take(ask)
        ticket = Ticket(ask, self, lease=lease)
        self._open[ask.request_id] = ticket
        return ticket

    async def _acquire(
        self,
        ask: Ask,
        *,
        permits: int,
        slots: int,
        hold: float,
        shared: bool = True,
        returning: dict[str, Any] | None = None,
    ) -> HeldLease:
        now_ms = int(self.clock.time() * 1000)
        period = period_of(now_ms)
        spent, audio_ms = await self.baselines.get(ask.workspace_id, period)
        sent_at = self.clock.monotonic()
        request = {
            "limits": ask.limits,
            "period": period,
            "keyId": ask.key_id,
            "permits": permits,
            "minPermits": 1,
            "budgetMicros": ask.estimate_micros * permits,
            "minBudgetMicros": ask.estimate_micros,
            "audioMs": max(ask.audio_estimate_ms, AUDIO_SLICE_MS),
            "minAudioMs": ask.audio_estimate_ms,
            "slots": slots,
            "permitTtl": self.permit_ttl,
            "holdTtl": hold,
            "spentMicros": spent,
            "spentAudioMs": audio_ms,
            "quotaRetryAfter": (period_bounds(period)[1] - now_ms) / 1000,
        }
        if returning is not None:
            request["returning"] = returning
        self.rpc_calls += 1
        try:
            grant = await self.stub_for(ask.workspace_id).acquire(request)
        except Exception:
            if returning is not None:
                self._send_release(ask.workspace_id, returning)
            raise
        if not grant.get("ok"):
            if shared:
                wait = min(float(grant.get("retryAfter") or 0.0), REFUSAL_CACHE_SECONDS)
                self._refused[(ask.workspace_id, ask.key_id)] = (sent_at + wait, grant)
            raise refused(grant)
        self._refused.pop((ask.workspace_id, ask.key_id), None)
        lease = grant["lease"]
        return HeldLease(
            workspace_id=ask.workspace_id,
            key_id=ask.key_id,
            grant=lease,
            usable_until=sent_at + float(lease.get("permitTtl", self.permit_ttl)),
            permits_left=int(lease["permits"]),
            budget_left=_opt_int(lease.get("budgetMicros")),
            audio_left=_opt_int(lease.get("audioMs")),
            shared=shared,
        )

    # -- settling --------------------------------------------------------------------------------------------------------
    def charge(self, row: UsageRow) -> None:
        ticket = self._open.get(row.request_id)
        audio_ms = audio_ms_of(row)
        if ticket is None or ticket.ask.workspace_id != row.workspace_id:
            # Recorded after its request ended: report it on its own so the object's month still adds up.
            self._send_release(
                row.workspace_id,
                {
                    "id": "late",
                    "unusedPermits": 0,
                    "period": row.billing_period,
                    "spentMicros": row.final_cost_micros,
                    "audioMs": audio_ms,
                },
            )
            return
        lease: HeldLease = ticket.lease
        estimate, audio_estimate = ticket.ask.estimate_micros, ticket.ask.audio_estimate_ms
        over_before = max(0, ticket.charged_micros - estimate)
        audio_over_before = max(0, ticket.charged_audio_ms - audio_estimate)
        ticket.charged_micros += row.final_cost_micros
        ticket.charged_audio_ms += audio_ms
        lease.spent_micros += row.final_cost_micros
        lease.audio_ms += audio_ms
        if lease.budget_left is not None:  # cost beyond the estimate comes out of the slice as it happens
            lease.budget_left -= max(0, ticket.charged_micros - estimate) - over_before
        if lease.audio_left is not None:
            lease.audio_left -= max(0, ticket.charged_audio_ms - audio_estimate) - audio_over_before

    def reserve_at_least(self, ticket: Ticket, micros: int) -> None:
        """Within this isolate's budget slice when it can; beyond it the admission-time estimate stands and the
        real cost settles against the object when the lease goes back (re-estimating with the object per request
        would cost the round trip leases exist to avoid)."""
        lease: HeldLease = ticket.lease
        extra = micros - ticket.ask.estimate_micros - ticket.reserved_extra
        if lease.budget_left is not None and 0 < extra <= lease.budget_left:
            lease.budget_left -= extra
            ticket.reserved_extra += extra

    def vendor_called(self, request_id: str) -> None:
        ticket = self._open.get(request_id)
        if ticket is not None:
            ticket.vendor_called = True

    def release(self, ticket: Ticket) -> None:
        if self._open.get(ticket.request_id) is ticket:
            del self._open[ticket.request_id]
        lease: HeldLease = ticket.lease
        lease.open_tickets -= 1
        if ticket.refunded and not lease.returned:
            lease.permits_left += 1  # unused after all: back into the block (and to the object with it)
        if lease.budget_left is not None:  # the unused part of the estimate goes back into the slice
            lease.budget_left += max(0, ticket.ask.estimate_micros + ticket.reserved_extra - ticket.charged_micros)
        if lease.audio_left is not None:
            lease.audio_left += max(0, ticket.ask.audio_estimate_ms - ticket.charged_audio_ms)
        if not lease.shared:
            self._retire(lease)
        elif lease.retired and lease.open_tickets == 0:
            self._return(lease)

    # -- giving leases back ------------------------------------------------------------------------------------------------
    async def _retire_when_expired(self, lease: HeldLease) -> None:
        await asyncio.sleep(max(0.0, lease.usable_until - self.clock.monotonic()))
        self._retire(lease)

    def _retire(self, lease: HeldLease) -> None:
        lease.retired = True
        if lease.open_tickets == 0:
            self._return(lease)

    def _return(self, lease: HeldLease) -> None:
        if not lease.returned:
            self._send_release(lease.workspace_id, self._take_back(lease))

    def _take_back(self, lease: HeldLease) -> dict[str, Any]:
        """Stop using ``lease`` and say what became of it (the ``release`` payload)."""
        lease.returned = True
        pair = (lease.workspace_id, lease.key_id)
        if self._held.get(pair) is lease:
            del self._held[pair]
        return {
            "id": lease.grant["id"],
            "unusedPermits": max(0, lease.permits_left),
            "period": lease.grant.get("period"),
            "spentMicros": lease.spent_micros,
            "audioMs": lease.audio_ms,
        }

    def _send_release(self, workspace_id: str, payload: dict[str, Any]) -> None:
        self.rpc_calls += 1
        self.tasks.spawn(self._release_rpc(workspace_id, payload))

    async def _release_rpc(self, workspace_id: str, payload: dict[str, Any]) -> None:
        try:
            await self.stub_for(workspace_id).release(payload)
        except Exception:
            # The object reclaims the lease after its hold time; the spend is in usage_records and comes back as the
            # next isolate's baseline.
            log.warning("returning a limits lease failed (workspace %s)", workspace_id, exc_info=True)


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)

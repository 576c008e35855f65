"""The request context that flows through the pipeline: who called (authenticated principal and workspace), the
admission ticket of a spending request, the request log's trace — and the stages that need them: run the attempts
over the candidates, reserve budget, record a usage event. Plain values only (the ASGI scope is a dict)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

from gateway.auth import Principal
from gateway.billing import Charge
from gateway.limits.service import Ticket
from gateway.pipeline.usage import UsageEvent
from gateway.request_log import RequestTrace, trace_of
from gateway.routing.directory import Candidate
from gateway.routing.failover import FailoverPolicy
from gateway.services import Gateway
from gateway.store.workspaces import Workspace
from providers.base import Call

T = TypeVar("T")


@dataclass(slots=True)
class RequestContext:
    gateway: Gateway
    principal: Principal
    request_id: str
    workspace: Workspace | None
    trace: RequestTrace | None = None  # what the request log learns on the request path (gateway.request_log)
    ticket: Ticket | None = None  # the admission of a spending request (released when the response ends)
    estimates: dict[str, int] = field(default_factory=dict)  # candidate id → estimated final cost, micro-dollars

    @property
    def workspace_id(self) -> str:
        assert self.workspace is not None
        return self.workspace.id

    def traced(self, scope: MutableMapping[str, Any]) -> RequestContext:
        """Attach this request's log trace and note who called."""
        self.trace = trace_of(scope)
        self.trace.workspace_id = self.workspace.id if self.workspace is not None else None
        self.trace.api_key_id = self.principal.key_id
        return self

    async def run_failover(
        self,
        candidates: Sequence[Candidate],
        attempt: Callable[[Candidate, Call], Awaitable[T]],
        policy: FailoverPolicy | None = None,
    ) -> tuple[T, Candidate, int]:
        """Try ``candidates`` in order for this request: (result, the vendor that served it, attempts made). Before
        each vendor, the budget reservation is raised to that vendor's estimate (failing over to a dearer vendor
        must fit the budget too; ``QuotaExceeded`` otherwise)."""
        ticket, estimates = self.ticket, self.estimates
        if ticket is not None and estimates:

            async def within_budget(candidate: Candidate, call: Call) -> T:
                if candidate.id in estimates:
                    ticket.reserve_at_least(estimates[candidate.id])
                return await attempt(candidate, call)

        else:
            within_budget = attempt  # type: ignore[assignment]  # same call shape; only the awaitable type differs
        outcome = await self.gateway.failover.run(
            candidates, within_budget, policy=policy or self.gateway.policy(), request_id=self.request_id,
            workspace_id=self.workspace_id,
        )  # fmt: skip
        assert outcome.result is not None and outcome.winner is not None
        return outcome.result, outcome.winner, outcome.count

    async def reserve_budget(self, estimates: dict[str, Decimal]) -> None:
        """Reserve the cheapest candidate's estimated final cost (markup included) against the monthly budget, now
        that the candidates are known (admission reserved nothing: a flat guess either blocks requests that fit or
        lets through ones that do not)."""
        if self.ticket is None or not estimates:
            return
        markup = await self.gateway.markup_for(self.workspace)
        self.estimates = {cid: Charge(usd, markup).final_micros for cid, usd in estimates.items()}  # as it would bill
        self.ticket.reserve_at_least(min(self.estimates.values()))

    def record(self, event: UsageEvent) -> Charge:
        """Buffer this request's usage row (written after the response) and return the charge."""
        row = event.row(
            request_id=self.request_id, workspace_id=self.workspace_id, api_key_id=self.principal.key_id,
            created_at_ms=int(self.gateway.runtime.clock.time() * 1000),
        )  # fmt: skip
        self.gateway.recorder.record_usage(row)
        if self.trace is not None:
            self.trace.add_usage(event, row.final_cost_micros)
        return event.charge

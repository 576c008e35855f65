"""Voice-agent calls through the one request path: candidates by capability ``call`` ordered by the workspace's
strategy, the failover runner (breakers, cool-downs, health, failover rows), and one usage row per call at its end.

Vendors are adapters (``providers.agent_calls.AgentCallProvider``); nothing here names one.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from gateway.billing import Charge
from gateway.calls.store import ACTIVE, RANK, AgentStore, CallStore
from gateway.errors import ErrorClass, GatewayError, InvalidRequest, NotFound, ProviderError, RateLimited, UpstreamError
from gateway.ids import new_id
from gateway.pipeline.usage import UsageEvent
from gateway.routing.directory import Candidate
from gateway.routing.select import select_candidates
from gateway.services import Gateway
from providers import get_provider
from providers.agent_calls import AgentCallProvider, CallSpec, CallState
from providers.base import Call, Capability, Credentials, Unit, to_micros

log = logging.getLogger("gateway.calls")

E164 = re.compile(r"^\+[1-9]\d{6,14}$")
STALE_MS = 2 * 60 * 1000  # a live call not heard of for this long is fetched by the reconciliation pass
CREATING_STALE_MS = 5 * 60 * 1000  # a reservation whose creation never finished (the process died mid-request)
GIVE_UP_ON_COST_MS = 60 * 60 * 1000  # an ended call whose cost never came is billed at list price after this


@dataclass
class Created:
    row: dict[str, Any]
    state: CallState
    provider: str
    attempts: int


def agent_provider(provider_id: str) -> AgentCallProvider | None:
    try:
        provider = get_provider(provider_id)
    except (KeyError, ImportError):
        return None
    return provider if isinstance(provider, AgentCallProvider) else None


class CallService:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.agents = AgentStore(gateway.runtime.db)
        self.calls = CallStore(gateway.runtime.db)

    def now_ms(self) -> int:
        return int(self.gateway.runtime.clock.time() * 1000)

    def vendor_call(self, credentials: Credentials) -> Call:
        runtime = self.gateway.runtime
        return Call(http=runtime.http, credentials=credentials, timeout=self.gateway.settings.attempt_timeout,
                    bindings=runtime.extras)  # fmt: skip

    async def credentials_for(self, workspace_id: str | None, provider: AgentCallProvider) -> Credentials | None:
        """The credential this workspace uses for the vendor (BYOK, platform key or environment); else the
        environment's (a webhook about a call the gateway does not know)."""
        if workspace_id is not None:
            for candidate in await self.gateway.directory.configured(workspace_id):
                if candidate.id == provider.id:
                    return candidate.credentials
        return provider.credentials_from_env(self.gateway.runtime.env)

    # -- creation --------------------------------------------------------------------------------------------------
    async def create(
        self, found: Any, *, agent_name: str, type_: str, to: str | None, metadata: dict[str, Any], pinned: str | None
    ) -> Created:
        if type_ == "phone" and (to is None or not E164.match(to)):
            raise InvalidRequest("a phone call needs 'to' as an E.164 number (e.g. +14155550123)", status=422)
        agent = await self.agents.get(found.workspace_id, agent_name)
        if agent is None:
            raise NotFound(f"agent {agent_name!r} is not configured in this workspace")

        def spec_for(candidate: Candidate) -> CallSpec:
            return CallSpec(agent=agent_name, type=type_, target=agent.vendors.get(candidate.id, {}), to=to,
                            metadata=metadata)  # fmt: skip

        def can_serve(candidate: Candidate) -> bool:
            provider = candidate.provider
            return isinstance(provider, AgentCallProvider) and provider.can_place(spec_for(candidate))

        def estimate(candidate: Candidate) -> Decimal:
            provider = candidate.provider
            return (
                provider.estimate_call_cost(spec_for(candidate))
                if isinstance(provider, AgentCallProvider)
                else Decimal(0)
            )

        candidates = await select_candidates(self.gateway, found.workspace_id, Capability.CALL, pinned=pinned,
                                             can_serve=can_serve, estimate=estimate)  # fmt: skip
        call_id = new_id("call")
        limit = found.workspace.limits.get("concurrentCalls")
        reserved = await self.calls.reserve(
            call_id=call_id, workspace_id=found.workspace_id, api_key_id=found.principal.key_id,
            request_id=found.request_id, agent=agent_name, type_=type_, to=to, metadata=metadata, now_ms=self.now_ms(),
            max_active=int(limit) if limit is not None else None,
        )  # fmt: skip
        if not reserved:
            raise RateLimited(f"this workspace already has {limit} live calls (concurrentCalls)", retry_after=30,
                              extra={"limit": "concurrentCalls"})  # fmt: skip

        async def attempt(candidate: Candidate, call: Call) -> CallState:
            assert isinstance(candidate.provider, AgentCallProvider)
            return await candidate.provider.create_call(call, spec_for(candidate))

        try:
            state, winner, attempts = await found.run_failover(candidates, attempt)
        except BaseException as exc:
            reason = exc.message if isinstance(exc, GatewayError) else type(exc).__name__
            await self.calls.fail_creation(call_id, f"creation failed: {reason}"[:300], self.now_ms())
            raise
        status = state.status if state.status in RANK and state.status != "creating" else "queued"
        await self.calls.attach(call_id, winner.id, state.vendor_call_id, status, self.now_ms())
        row = await self.calls.get(found.workspace_id, call_id)
        assert row is not None
        return Created(row, state, winner.id, attempts)

    # -- ending ----------------------------------------------------------------------------------------------------
    async def end(self, row: dict[str, Any]) -> None:
        provider = agent_provider(row["provider"] or "")
        if row["status"] not in ACTIVE or provider is None or not row["vendor_call_id"]:
            raise InvalidRequest(f"call is {row['status']}: nothing to end", status=409)
        credentials = await self.credentials_for(row["workspace_id"], provider)
        if credentials is None:
            raise UpstreamError(f"{provider.id} is no longer configured for this workspace")
        try:
            await provider.end_call(self.vendor_call(credentials), row["vendor_call_id"])
        except ProviderError as exc:
            if exc.error_class == ErrorClass.UNSUPPORTED:
                raise InvalidRequest(f"{provider.id}: {exc.message}", status=409) from None
            raise UpstreamError(f"{provider.id} could not end the call", attempts=[exc.attempt()]) from None

    # -- state from webhooks and fetches ---------------------------------------------------------------------------
    async def apply(self, row: dict[str, Any], state: CallState) -> bool:
        """Merge what the vendor says into the call; bill it once it is final with a cost. Returns whether anything
        changed. A billed call never changes again (a retried or duplicated delivery is a no-op)."""
        if row["billed_at"] is not None:
            return False
        changes: dict[str, Any] = {}
        if RANK.get(state.status, 0) > RANK[row["status"]]:
            changes["status"] = state.status
        reported = {
            "started_at": state.started_at_ms, "ended_at": state.ended_at_ms, "duration_seconds": state.duration_seconds,
            "ended_reason": state.ended_reason, "transcript_url": state.transcript_url,
            "recording_url": state.recording_url,
            "provider_cost_micros": None if state.cost_usd is None else to_micros(state.cost_usd),
        }  # fmt: skip
        for column, value in reported.items():
            if value is not None and value != row[column]:
                changes[column] = value
        changed = False
        now = self.now_ms()
        if changes:
            changed = await self.calls.update_state(row, changes, now)
            if not changed:  # someone else moved it first: start again from what is stored now
                fresh = await self.calls.by_vendor_id(row["provider"], row["vendor_call_id"])
                return await self.apply(fresh, state) if fresh is not None else False
            row = {**row, **changes, "updated_at": now}
        if row["status"] in ("ended", "failed") and row["provider_cost_micros"] is not None:
            changed = await self.bill(row, Decimal(row["provider_cost_micros"]) / 1_000_000) or changed
        return changed

    async def bill(self, row: dict[str, Any], provider_cost: Decimal, *, list_price: bool = False) -> bool:
        gateway = self.gateway
        workspace = await gateway.workspace(row["workspace_id"])
        charge = Charge(provider_cost, await gateway.markup_for(workspace))
        minutes = float(row["duration_seconds"] or 0.0) / 60
        per_minute = (provider_cost / Decimal(str(minutes))) if minutes > 0 else Decimal(0)
        usage = UsageEvent(
            charge, provider=row["provider"], resource="call", model=row["agent"],
            unit_prices={Unit.MINUTE: per_minute.quantize(Decimal("0.000001"))}, minutes=round(minutes, 4),
        ).row(request_id=row["id"], workspace_id=row["workspace_id"], api_key_id=row["api_key_id"],
              created_at_ms=self.now_ms())  # fmt: skip
        billed = await self.calls.bill(row["id"], to_micros(provider_cost), usage, self.now_ms())
        if billed:
            gateway.limits.charge(usage)  # the budget counts the call now (never awaits)
            log.info("call %s billed: %s min, provider %s USD%s", row["id"], round(minutes, 2), provider_cost,
                     " (list price: the vendor reported no cost)" if list_price else "")  # fmt: skip
        return billed

    # -- reconciliation --------------------------------------------------------------------------------------------
    async def reconcile(self, limit: int = 50) -> dict[str, int]:
        """Fetch calls whose end webhook (or cost) never came and apply what the vendor says now."""
        now = self.now_ms()
        rows = await self.calls.needing_reconciliation(
            stale_before_ms=now - STALE_MS, creating_before_ms=now - CREATING_STALE_MS, limit=limit
        )
        counts = {"checked": 0, "changed": 0, "failed": 0}
        for row in rows:
            counts["checked"] += 1
            try:
                if await self._reconcile_one(row, now):
                    counts["changed"] += 1
            except Exception:  # one vendor being down must not stop the pass
                counts["failed"] += 1
                log.warning("reconciling call %s failed", row["id"], exc_info=True)
        return counts

    async def _reconcile_one(self, row: dict[str, Any], now: int) -> bool:
        if row["status"] == "creating":
            await self.calls.fail_creation(row["id"], "creation never completed", now)
            return True
        provider = agent_provider(row["provider"] or "")
        if provider is None or not row["vendor_call_id"]:
            return False
        credentials = await self.credentials_for(row["workspace_id"], provider)
        if credentials is None:
            return False
        state = await provider.get_call(self.vendor_call(credentials), row["vendor_call_id"])
        changed = await self.apply(row, state)
        if changed:
            return True
        fresh = await self.calls.by_vendor_id(row["provider"], row["vendor_call_id"])
        if fresh is None or fresh["billed_at"] is not None or fresh["status"] != "ended":
            if fresh is not None and fresh["status"] in ACTIVE:
                await self.calls.update_state(fresh, {"status": fresh["status"]}, now)  # checked: not stale now
            return False
        ended = fresh["ended_at"] or fresh["updated_at"]
        if now - ended >= GIVE_UP_ON_COST_MS:
            minutes = float(fresh["duration_seconds"] or 0.0) / 60
            return await self.bill(fresh, provider.prices.cost("*", {Unit.MINUTE: minutes}), list_price=True)
        return False


def call_service(gateway: Gateway) -> CallService:
    """One service per gateway (per isolate)."""
    service = getattr(gateway, "_call_service", None)
    if service is None:
        service = CallService(gateway)
        gateway._call_service = service  # type: ignore[attr-defined]
    return service


def view(row: dict[str, Any]) -> dict[str, Any]:
    """A call as the API shows it (never a vendor secret; the join details are returned only at creation)."""
    return {
        "id": row["id"], "agent": row["agent"], "type": row["type"], "provider": row["provider"],
        "vendorCallId": row["vendor_call_id"], "status": row["status"], "to": row["to_number"],
        "createdAt": row["created_at"], "startedAt": row["started_at"], "endedAt": row["ended_at"],
        "durationSeconds": row["duration_seconds"], "endedReason": row["ended_reason"],
        "transcriptUrl": row["transcript_url"], "recordingUrl": row["recording_url"],
        "metadata": json.loads(row["metadata_json"] or "{}"), "billed": row["billed_at"] is not None,
    }  # fmt: skip

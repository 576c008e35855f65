"""Shared request plumbing for routers: the gateway services, the caller (authenticated, and for spending routes
admitted by the workspace's limits), JSON bodies."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

from fastapi import Request
from pydantic import BaseModel, ValidationError

from gateway import json_bounds as bounded_json
from gateway.auth import Principal, bearer_token
from gateway.billing import Charge, usage_row
from gateway.errors import (
    Forbidden,
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
    UnsupportedMediaType,
    describe_validation_errors,
)
from gateway.limits.admission import admit
from gateway.limits.service import Ticket
from gateway.middleware import request_id_of
from gateway.request_log import RequestTrace, trace_of
from gateway.routing.directory import Candidate
from gateway.routing.failover import FailoverPolicy
from gateway.services import Gateway
from gateway.store.workspaces import Workspace
from providers.base import Call, Unit

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")

MAX_JSON_BYTES = 1024 * 1024


def gateway_of(request: Request) -> Gateway:
    return request.app.state.gateway  # type: ignore[no-any-return]


@dataclass
class Caller:
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

    def traced(self, scope: Any) -> Caller:
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

        async def within_budget(candidate: Candidate, call: Call) -> T:
            if self.ticket is not None and candidate.id in self.estimates:
                self.ticket.reserve_at_least(self.estimates[candidate.id])
            return await attempt(candidate, call)

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

    def record_usage(
        self, charge: Charge, *, provider: str, resource: str, model: str | None, unit_prices: Mapping[Unit, Decimal],
        segment: int = 0, characters: int | None = None, audio_seconds: float | None = None,
        input_tokens: int | None = None, output_tokens: int | None = None,
    ) -> Charge:  # fmt: skip
        """Buffer this request's usage row (written after the response) and return the charge."""
        row = usage_row(
            request_id=self.request_id, workspace_id=self.workspace_id, api_key_id=self.principal.key_id,
            provider=provider, resource=resource, model=model, charge=charge, unit_prices=dict(unit_prices),
            created_at_ms=int(self.gateway.runtime.clock.time() * 1000), segment=segment, characters=characters,
            audio_seconds=audio_seconds, input_tokens=input_tokens, output_tokens=output_tokens,
        )  # fmt: skip
        self.gateway.recorder.record_usage(row)
        if self.trace is not None:
            self.trace.add_usage(
                provider=provider, resource=resource, cost_micros=row.final_cost_micros, characters=characters,
                audio_seconds=audio_seconds, input_tokens=input_tokens, output_tokens=output_tokens,
            )  # fmt: skip
        return charge


async def caller(request: Request) -> Caller:
    """A workspace key (or the admin token) — for routes either may call."""
    gateway = gateway_of(request)
    principal = await gateway.auth.authenticate(bearer_token(request.headers.get("authorization")))
    workspace = None
    if principal.workspace_id is not None:
        workspace = await gateway.workspace(principal.workspace_id)
        if workspace is None or workspace.status != "active":
            raise Forbidden("this workspace is not active")
    return Caller(gateway, principal, request_id_of(request.scope), workspace).traced(request.scope)


async def workspace_caller(request: Request) -> Caller:
    """Routes that spend: only a workspace key, and the workspace's limits admit the request (rates per workspace
    and per key, stream slots, budget and audio quota; 429 otherwise). The admission is released when the response
    has ended, streamed bodies included. Reads (``GET``) are authenticated but not admitted."""
    found = await caller(request)
    if found.workspace is None:
        raise Forbidden("this endpoint needs a workspace API key, not the admin token")
    if request.method != "GET":
        found.ticket = await admit(
            found.gateway.limits, request.scope, workspace_id=found.workspace.id, key_id=found.principal.key_id,
            workspace_limits=found.workspace.limits, request_id=found.request_id,
        )
    return found


async def admin_caller(request: Request) -> Caller:
    found = await caller(request)
    if not found.principal.is_admin:
        raise Forbidden("this endpoint needs the admin token")
    return found


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refusing with 413 as soon as it is known to exceed ``limit`` (never buffering more than that)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > limit:
                raise PayloadTooLarge(f"body exceeds the limit of {limit} bytes")
        except ValueError:
            raise InvalidRequest("invalid Content-Length") from None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def json_object(request: Request) -> dict[str, Any]:
    """The body as a JSON object, with clear 4xx errors for anything else (no FastAPI body magic: one error shape)."""
    content_type = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if content_type not in ("application/json", "text/json", "") and not content_type.endswith("+json"):
        raise UnsupportedMediaType("send the body as application/json")
    raw = await read_body(request, MAX_JSON_BYTES)
    if not raw.strip():
        raise InvalidRequest("the request body is empty; send a JSON object")
    try:
        data: Any = bounded_json.loads(raw)
    except bounded_json.TooDeep as exc:
        raise InvalidRequest(f"the request body is {exc}") from None
    except (ValueError, UnicodeDecodeError):
        raise InvalidRequest("the request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise InvalidRequest("the request body must be a JSON object")
    return data


async def json_body(request: Request, model: type[M]) -> M:
    """Parse a JSON object body into ``model``; validation problems are 422 naming each field."""
    data = await json_object(request)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidRequest(describe_validation_errors(exc.errors()), status=422) from None


def check_workspace_claim(found: Caller, claimed: str | None) -> None:
    """Seed clients send ``workspaceId`` in the body: accepted only when it is the key's own workspace."""
    if claimed is not None and (found.workspace is None or claimed != found.workspace.id):
        raise Forbidden("workspaceId does not match the API key's workspace")


def require_found(value: Any, what: str) -> Any:
    if value is None:
        raise NotFound(f"{what} not found")
    return value

"""The ``LimitsService`` port: admit a request (or a stream) for a workspace key, charge it as usage is recorded,
release it when the response has ended. Two implementations: :mod:`.local` (in-process) and :mod:`.leasing`
(blocks of permits leased from the per-workspace Durable Object)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from gateway.errors import GatewayError, QuotaExceeded, RateLimited
from gateway.store.usage import UsageRow

DEFAULT_ESTIMATE_MICROS = 10_000  # $0.01: above one typical TTS/STT/LLM request; routes may pass a better one


@dataclass(frozen=True)
class Ask:
    """One admission: who, under which limits (the workspace's ``limits`` JSON), reserving how much."""

    workspace_id: str
    key_id: str | None
    request_id: str
    limits: dict[str, Any]
    estimate_micros: int = DEFAULT_ESTIMATE_MICROS
    audio_estimate_ms: int = 0
    stream: bool = False  # holds a ``concurrentStreams`` slot until released


@dataclass(eq=False)
class Ticket:
    """An admitted request. ``release`` is idempotent; the service settles real costs as usage rows are recorded."""

    ask: Ask
    service: LimitsService
    lease: Any = None  # the implementation's handle
    charged_micros: int = 0
    charged_audio_ms: int = 0
    released: bool = field(default=False)
    vendor_called: bool = False  # some vendor (or the built-in engine) was asked to do the work
    reserved_extra: int = 0  # budget reserved after admission (leases: on top of the admission estimate)
    refunded: bool = False  # rejected before any vendor was called: the request permit is given back

    @property
    def request_id(self) -> str:
        return self.ask.request_id

    def reserve_at_least(self, micros: int) -> None:
        """Make this request's budget reservation at least ``micros`` (its cheapest vendor's estimate, or the next
        vendor's on failover), or raise ``QuotaExceeded`` when that does not fit the monthly budget."""
        self.service.reserve_at_least(self, micros)

    def release(self, *, status: int | None = None) -> None:
        """``status``: the HTTP status the response had. A request refused as invalid (4xx) before any vendor was
        called gets its request permit back: a client's malformed requests must not eat its rate quota."""
        if not self.released:
            self.released = True
            self.refunded = status is not None and 400 <= status < 500 and not self.vendor_called
            self.service.release(self)


class LimitsService(Protocol):
    admission_estimate: int  # micro-dollars reserved when a request is admitted, before its vendors are known

    async def admit(self, ask: Ask) -> Ticket:
        """Reserve a request permit (and a stream slot, budget and audio estimate) or raise ``RateLimited`` /
        ``QuotaExceeded`` with ``retry_after``."""
        ...

    def charge(self, row: UsageRow) -> None:
        """A usage row was recorded: settle its real cost against the request's reservation (never awaits)."""
        ...

    def release(self, ticket: Ticket) -> None:
        """The response (or stream, or WebSocket session) has ended (never awaits); ``ticket.refunded``: its
        request permit is given back."""
        ...

    def reserve_at_least(self, ticket: Ticket, micros: int) -> None:
        """Raise ``ticket``'s budget reservation to ``micros`` or raise ``QuotaExceeded`` (never awaits)."""
        ...

    def vendor_called(self, request_id: str) -> None:
        """The request reached a vendor: from now on it counts against the rate limits whatever its outcome."""
        ...


def refused(grant: dict[str, Any], retry_after: float | None = None) -> GatewayError:
    """The client-facing error for a refusing grant: rates and concurrency are ``rate_limited``, budget and audio
    minutes ``quota_exceeded``; both carry ``Retry-After``."""
    reason = grant.get("reason")
    wait = float(grant.get("retryAfter") or 1.0) if retry_after is None else retry_after
    message = str(grant.get("message") or "limit reached")
    error_type = QuotaExceeded if reason in ("budget", "audio") else RateLimited
    return error_type(message, retry_after=max(wait, 1.0), extra={"limit": reason})


def audio_ms_of(row: UsageRow) -> int:
    return round((row.audio_seconds or 0.0) * 1000)

"""The voice-agent call contract: what the gateway asks of a vendor that runs whole calls (Vapi, Retell), and the
neutral view of a call it gets back — from creation, from a fetch, or from a webhook.

A vendor owns its wire format end to end: request bodies, status names, webhook authentication and payloads. The
core sees only :class:`CallSpec`, :class:`CallState` and :class:`CallEvent`, and the gateway statuses below.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, ClassVar

from gateway.errors import ErrorClass, ProviderError
from providers.base import Call, Capability, Credentials, Provider, Unit
from providers.http import parse_json, send

# Gateway call statuses (a vendor maps its own names onto these).
QUEUED, RINGING, IN_PROGRESS, ENDED, FAILED = "queued", "ringing", "in_progress", "ended", "failed"
FINAL_STATUSES = frozenset({ENDED, FAILED})


@dataclass(frozen=True)
class CallSpec:
    """One call to create. ``target`` is this vendor's part of the logical agent (e.g. ``{"assistantId": ...}``)."""

    agent: str
    type: str  # "web" | "phone"
    target: Mapping[str, Any]
    to: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class CallState:
    """A call as the vendor reports it. ``None`` means "not reported", never "zero"."""

    vendor_call_id: str
    status: str
    join: dict[str, Any] | None = None  # what a browser needs to join a web call (returned once, never stored)
    started_at_ms: int | None = None
    ended_at_ms: int | None = None
    duration_seconds: float | None = None
    cost_usd: Decimal | None = None  # the vendor's own figure for the whole call
    ended_reason: str | None = None
    transcript_url: str | None = None
    recording_url: str | None = None

    @property
    def final(self) -> bool:
        return self.status in FINAL_STATUSES


@dataclass(frozen=True)
class CallEvent:
    """One authenticated webhook delivery, parsed: which event, about which call, and what it says now."""

    event: str  # the vendor's event name, for logs
    state: CallState


class AgentCallProvider(Provider):
    """Base of vendors that run voice-agent calls. Subclasses implement the operations they support."""

    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.CALL})
    # Keys of the agent's vendor entry that must be present for each call type.
    required_target: ClassVar[Mapping[str, tuple[str, ...]]] = {}
    env_webhook_secret: ClassVar[str | None] = None

    @classmethod
    def credentials_from_env(cls, env: Mapping[str, str]) -> Credentials | None:
        found = super().credentials_from_env(env)
        if found is None or not cls.env_webhook_secret or not env.get(cls.env_webhook_secret):
            return found
        return Credentials(found.api_key, found.base_url, {"webhook_secret": env[cls.env_webhook_secret]})

    # -- the vendor's REST API: bearer-authenticated JSON, errors as ``{"message": str | [str], ...}`` ------------------
    @staticmethod
    def _headers(call: Call) -> dict[str, str]:
        return {"Authorization": f"Bearer {call.credentials.api_key}"}

    @staticmethod
    def describe_error(status: int, body: Any, text: str) -> tuple[str, ErrorClass | None]:
        """Both agent platforms put the reason in ``message`` (Vapi's NestJS errors may make it a list)."""
        message = body.get("message") if isinstance(body, dict) else None
        if message:
            return ("; ".join(map(str, message)) if isinstance(message, list) else str(message)), None
        return text or f"HTTP {status}", None

    async def _json(self, call: Call, method: str, path: str, **kwargs: Any) -> Any:
        url = f"{call.credentials.base_url}{path}"
        response = await send(call.http, self.id, method, url, timeout=call.timeout, headers=self._headers(call),
                              describe=self.describe_error, **kwargs)  # fmt: skip
        return parse_json(self.id, response)

    def can_place(self, spec: CallSpec) -> bool:
        needed = self.required_target.get(spec.type)
        return needed is not None and all(spec.target.get(key) for key in needed)

    def estimate_call_cost(self, spec: CallSpec) -> Decimal:
        """Per-minute list price: orders candidates under the cost strategy (the bill uses the vendor's figure)."""
        return self.prices.cost("*", {Unit.MINUTE: 1})

    async def create_call(self, call: Call, spec: CallSpec) -> CallState:
        raise ProviderError(self.id, ErrorClass.UNSUPPORTED, "agent calls are not supported")

    async def get_call(self, call: Call, vendor_call_id: str) -> CallState:
        raise ProviderError(self.id, ErrorClass.UNSUPPORTED, "fetching calls is not supported")

    async def end_call(self, call: Call, vendor_call_id: str) -> None:
        raise ProviderError(self.id, ErrorClass.UNSUPPORTED, "ending a call is not supported by this vendor")

    # -- webhooks: pure functions of the delivery --------------------------------------------------------------------
    def webhook_call_id(self, body: Any) -> str | None:
        """The vendor call id a delivery is about (read before verification only to find whose secret to use)."""
        return None

    def verify_webhook(self, credentials: Credentials, headers: Mapping[str, str], raw: bytes, now_ms: int) -> bool:
        return False

    def parse_webhook(self, body: Any) -> CallEvent | None:
        """The event, or None for deliveries that say nothing about call state (transcripts, tool calls, ...)."""
        return None


def usd(value: Any) -> Decimal | None:
    """A vendor's money figure (JSON number) as Decimal, exactly as written."""
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except ArithmeticError:
        return None

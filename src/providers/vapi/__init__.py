"""Vapi: voice-agent calls (phone and web) on Vapi assistants.

Endpoint config and I/O live here; the wire format is in :mod:`.wire`, webhook authentication in :mod:`.webhooks`.
Auth is ``Authorization: Bearer <private key>``; the base URL is ``VAPI_BASE_URL`` (default ``https://api.vapi.ai``).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, ClassVar

from gateway.errors import ErrorClass, ProviderError
from providers.agent_calls import AgentCallProvider, CallEvent, CallSpec, CallState
from providers.base import Call, Credentials, PriceTable, Unit
from providers.http import send
from providers.vapi import wire
from providers.vapi.webhooks import verify


class VapiProvider(AgentCallProvider):
    id = "vapi"
    # Vapi's own platform fee per minute (vendor-side model/voice/telephony costs come on top and are in the cost
    # Vapi reports, which is what gets billed). Used only to order vendors under the cost strategy.
    prices = PriceTable(as_of="2026-12-02", prices={"*": {Unit.MINUTE: Decimal("0.05")}})
    env_key = "VAPI_API_KEY"
    env_base_url = "VAPI_BASE_URL"
    default_base_url = "https://api.vapi.ai"
    env_webhook_secret = "VAPI_WEBHOOK_SECRET"
    required_target: ClassVar[Mapping[str, tuple[str, ...]]] = {
        "web": ("assistantId",),
        "phone": ("assistantId", "phoneNumberId"),
    }

    @staticmethod
    def _headers(call: Call) -> dict[str, str]:
        key, _, _ = (call.credentials.api_key or "").partition(":")
        return {"Authorization": f"Bearer {key}"}

    @staticmethod
    def webhook_secret(credentials: Credentials) -> str | None:
        """A stored (BYOK or platform) key may be ``<private key>:<server secret>``, so a workspace brings its own
        webhook secret sealed with its key (Vapi keys are UUIDs: no colon of their own); else
        ``VAPI_WEBHOOK_SECRET``."""
        _, _, secret = (credentials.api_key or "").partition(":")
        return secret or credentials.extra.get("webhook_secret")

    async def create_call(self, call: Call, spec: CallSpec) -> CallState:
        body = await self._json(call, "POST", wire.create_path(spec), json=wire.create_body(spec))
        if not isinstance(body, dict) or not body.get("id"):
            raise ProviderError(self.id, ErrorClass.MALFORMED, "Vapi answered without a call id")
        return wire.call_state(body, call.credentials.base_url)

    async def get_call(self, call: Call, vendor_call_id: str) -> CallState:
        body = await self._json(call, "GET", f"/call/{vendor_call_id}")
        if not isinstance(body, dict) or not body.get("id"):
            raise ProviderError(self.id, ErrorClass.MALFORMED, "Vapi answered without a call")
        return wire.call_state(body, call.credentials.base_url)

    async def end_call(self, call: Call, vendor_call_id: str) -> None:
        """Vapi ends a live call through the call's control URL (``monitor.controlUrl``, ``{"type": "end-call"}``);
        the URL is read fresh from ``GET /call/{id}`` rather than stored."""
        body = await self._json(call, "GET", f"/call/{vendor_call_id}")
        monitor = body.get("monitor") if isinstance(body, dict) else None
        control = monitor.get("controlUrl") if isinstance(monitor, dict) else None
        if not control:
            raise ProviderError(self.id, ErrorClass.UNSUPPORTED, "this Vapi call has no control URL (not live)")
        await send(call.http, self.id, "POST", str(control), timeout=call.timeout, json={"type": "end-call"},
                   describe=self.describe_error)  # fmt: skip

    async def probe(self, call: Call) -> None:
        await self._json(call, "GET", "/assistant", params={"limit": 1})

    def webhook_call_id(self, body: Any) -> str | None:
        return wire.message_call_id(body)

    def verify_webhook(self, credentials: Credentials, headers: Mapping[str, str], raw: bytes, now_ms: int) -> bool:
        return verify(self.webhook_secret(credentials), headers, raw, now_ms)

    def parse_webhook(self, body: Any) -> CallEvent | None:
        return wire.parse_message(body)

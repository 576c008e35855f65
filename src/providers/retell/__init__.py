"""Retell AI: voice-agent calls (phone and web) on Retell agents.

Endpoint config and I/O live here; the wire format is in :mod:`.wire`, webhook signatures in :mod:`.webhooks`.
Auth is ``Authorization: Bearer <API key>``; the base URL is ``RETELL_BASE_URL`` (default
``https://api.retellai.com``). Retell has no "end call" endpoint for a live call, so ``end_call`` is unsupported.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, ClassVar

from gateway.errors import ErrorClass, ProviderError
from providers.agent_calls import AgentCallProvider, CallEvent, CallSpec, CallState
from providers.base import Call, Credentials, PriceTable, Unit
from providers.retell import wire
from providers.retell.webhooks import verify


class RetellProvider(AgentCallProvider):
    id = "retell"
    # Retell's list price per minute for voice engine + LLM + telephony at its lowest tier; the bill uses the cost
    # Retell reports (``call_cost.combined_cost``). Used only to order vendors under the cost strategy.
    prices = PriceTable(as_of="2026-12-02", prices={"*": {Unit.MINUTE: Decimal("0.07")}})
    env_key = "RETELL_API_KEY"
    env_base_url = "RETELL_BASE_URL"
    default_base_url = "https://api.retellai.com"
    required_target: ClassVar[Mapping[str, tuple[str, ...]]] = {
        "web": ("agentId",),
        "phone": ("agentId", "fromNumber"),
    }

    async def create_call(self, call: Call, spec: CallSpec) -> CallState:
        body = await self._json(call, "POST", wire.create_path(spec), json=wire.create_body(spec))
        if not isinstance(body, dict) or not body.get("call_id"):
            raise ProviderError(self.id, ErrorClass.MALFORMED, "Retell answered without a call_id")
        if spec.type == "web" and not body.get("access_token"):
            raise ProviderError(self.id, ErrorClass.MALFORMED, "Retell answered a web call without an access_token")
        return wire.call_state(body, call.credentials.base_url)

    async def get_call(self, call: Call, vendor_call_id: str) -> CallState:
        body = await self._json(call, "GET", f"/v2/get-call/{vendor_call_id}")
        if not isinstance(body, dict) or not body.get("call_id"):
            raise ProviderError(self.id, ErrorClass.MALFORMED, "Retell answered without a call")
        return wire.call_state(body, call.credentials.base_url)

    async def probe(self, call: Call) -> None:
        await self._json(call, "GET", "/list-agents")

    def webhook_call_id(self, body: Any) -> str | None:
        return wire.event_call_id(body)

    def verify_webhook(self, credentials: Credentials, headers: Mapping[str, str], raw: bytes, now_ms: int) -> bool:
        return verify(credentials.api_key, headers, raw, now_ms)

    def parse_webhook(self, body: Any) -> CallEvent | None:
        return wire.parse_event(body)

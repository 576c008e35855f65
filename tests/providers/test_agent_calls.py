"""The voice-agent call contract: both vendors registered as call providers."""

from __future__ import annotations

from providers import get_provider
from providers.agent_calls import AgentCallProvider, CallSpec
from providers.base import Capability

NOW = 1_764_000_000_000
PHONE = CallSpec(
    agent="support",
    type="phone",
    to="+14155550123",
    metadata={"ticket": "T-1"},
    target={"assistantId": "a1", "phoneNumberId": "p1", "agentId": "r1", "fromNumber": "+14155550100"},
)


def test_both_vendors_are_registered_call_providers() -> None:
    for vendor in ("vapi", "retell"):
        provider = get_provider(vendor)
        assert isinstance(provider, AgentCallProvider) and provider.capabilities == frozenset({Capability.CALL})
        assert provider.estimate_call_cost(PHONE) > 0

"""The Retell adapter: request bodies, call objects (cents to USD), events, the SDK's signature scheme."""

from __future__ import annotations

import hashlib
import hmac
from decimal import Decimal

from providers import get_provider
from providers.agent_calls import ENDED, FAILED, QUEUED, CallSpec
from providers.base import Credentials
from providers.retell import webhooks as retell_hooks
from providers.retell import wire as retell_wire
from tests.providers.test_agent_calls import NOW, PHONE


def test_retell_request_bodies_and_call_object() -> None:
    assert retell_wire.create_path(PHONE) == "/v2/create-phone-call"
    assert retell_wire.create_body(PHONE) == {"from_number": "+14155550100", "to_number": "+14155550123",
                                              "override_agent_id": "r1", "metadata": {"ticket": "T-1"}}  # fmt: skip
    web = CallSpec(agent="support", type="web", target={"agentId": "r1"})
    assert (retell_wire.create_path(web), retell_wire.create_body(web)) == ("/v2/create-web-call", {"agent_id": "r1"})
    state = retell_wire.call_state({
        "call_id": "rc1", "call_status": "ended", "start_timestamp": NOW, "end_timestamp": NOW + 61_000,
        "duration_ms": 61_000, "disconnection_reason": "agent_hangup", "recording_url": "https://r/2.wav",
        "public_log_url": "https://r/2.log", "call_cost": {"combined_cost": 8.54, "total_duration_seconds": 61,
                                                          "product_costs": [], "total_duration_unit_price": 0.14},
    })  # fmt: skip
    assert (state.status, state.duration_seconds, state.cost_usd) == (ENDED, 61.0, Decimal("0.0854"))  # cents → USD
    assert state.transcript_url == "https://r/2.log"
    joined = retell_wire.call_state({"call_id": "w1", "call_status": "registered", "access_token": "tok"})
    assert joined.status == QUEUED and joined.join == {"accessToken": "tok", "callId": "w1"}
    assert retell_wire.call_state({"call_id": "x", "call_status": "not_connected"}).status == FAILED
    assert retell_wire.parse_event({"event": "call_ended", "call": {"call_id": "rc1", "call_status": "ended"}})
    assert retell_wire.parse_event({"event": "transcript_updated", "call": {"call_id": "rc1"}}) is None


def test_retell_signature_matches_the_sdk_scheme() -> None:
    """retell-sdk ``verify(body, api_key, signature)``: ``v=<ms>,d=<hex HMAC-SHA256(key, body + str(ms))>``, five
    minutes of tolerance."""
    raw = b'{"event":"call_ended","call":{"call_id":"rc1"}}'
    digest = hmac.new(b"key_abc", raw + str(NOW).encode(), hashlib.sha256).hexdigest()
    header = f"v={NOW},d={digest}"
    assert retell_hooks.sign(raw, "key_abc", NOW) == header
    assert retell_hooks.verify("key_abc", {"x-retell-signature": header}, raw, NOW + 299_000)
    assert not retell_hooks.verify("key_abc", {"x-retell-signature": header}, raw, NOW + 301_000)
    assert not retell_hooks.verify("key_xyz", {"x-retell-signature": header}, raw, NOW)
    assert not retell_hooks.verify("key_abc", {"x-retell-signature": header}, raw + b" ", NOW)
    assert not retell_hooks.verify("key_abc", {"x-retell-signature": digest}, raw, NOW)
    assert not retell_hooks.verify("key_abc", {}, raw, NOW)
    provider = get_provider("retell")
    assert provider.verify_webhook(Credentials("key_abc", "http://r"), {"x-retell-signature": header}, raw, NOW)  # type: ignore[attr-defined]

"""The Vapi and Retell adapters' wire formats and webhook authentication, as pure functions on plain dicts/bytes."""

from __future__ import annotations

import hashlib
import hmac
from decimal import Decimal

import pytest

from providers import get_provider
from providers.agent_calls import ENDED, FAILED, IN_PROGRESS, QUEUED, RINGING, AgentCallProvider, CallSpec
from providers.base import Capability, Credentials
from providers.retell import webhooks as retell_hooks
from providers.retell import wire as retell_wire
from providers.vapi import webhooks as vapi_hooks
from providers.vapi import wire as vapi_wire

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


def test_vapi_request_bodies() -> None:
    assert vapi_wire.create_path(PHONE) == "/call"
    assert vapi_wire.create_body(PHONE) == {
        "assistantId": "a1", "phoneNumberId": "p1", "customer": {"number": "+14155550123"},
        "assistantOverrides": {"metadata": {"ticket": "T-1"}},
    }  # fmt: skip
    web = CallSpec(agent="support", type="web", target={"assistantId": "a1"})
    assert (vapi_wire.create_path(web), vapi_wire.create_body(web)) == ("/call/web", {"assistantId": "a1"})
    assert get_provider("vapi").can_place(web)  # type: ignore[attr-defined]
    assert not get_provider("vapi").can_place(CallSpec("s", "phone", {"assistantId": "a1"}, "+1415555012"))  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("status", "reason", "expected"),
    [("queued", None, QUEUED), ("scheduled", None, QUEUED), ("ringing", None, RINGING),
     ("in-progress", None, IN_PROGRESS), ("forwarding", None, IN_PROGRESS), ("ended", "customer-ended-call", ENDED),
     ("ended", "customer-did-not-answer", FAILED), ("ended", "pipeline-error-openai-llm-failed", FAILED)],
)  # fmt: skip
def test_vapi_statuses(status: str, reason: str | None, expected: str) -> None:
    assert vapi_wire.status_of(status, reason) == expected


def test_vapi_end_of_call_report_carries_the_final_figures() -> None:
    message = {"message": {
        "type": "end-of-call-report", "endedReason": "assistant-ended-call", "cost": 0.1234,
        "startedAt": "2026-12-02T10:00:00.000Z", "endedAt": "2026-12-02T10:01:30.500Z",
        "artifact": {"recordingUrl": "https://r/1.wav", "transcript": "AI: hi"},
        "call": {"id": "c1", "status": "in-progress"},
    }}  # fmt: skip
    assert vapi_wire.message_call_id(message) == "c1"
    event = vapi_wire.parse_message(message)
    assert event is not None and event.event == "end-of-call-report"
    state = event.state
    assert (state.vendor_call_id, state.status, state.cost_usd, state.duration_seconds) == (
        "c1",
        ENDED,
        Decimal("0.1234"),
        90.5,
    )
    assert state.recording_url == "https://r/1.wav" and state.ended_reason == "assistant-ended-call"
    assert vapi_wire.parse_message({"message": {"type": "transcript", "call": {"id": "c1"}}}) is None
    assert vapi_wire.parse_message({"nope": 1}) is None and vapi_wire.message_call_id([1]) is None


def test_vapi_secret_header_and_hmac_credential() -> None:
    raw = b'{"message": {}}'
    assert vapi_hooks.verify("s3cret", {"x-vapi-secret": "s3cret"}, raw, NOW)
    assert vapi_hooks.verify("s3cret", {"x-vapi-signature": "s3cret"}, raw, NOW)
    assert not vapi_hooks.verify("s3cret", {"x-vapi-secret": "s3cret!"}, raw, NOW)
    assert not vapi_hooks.verify(None, {"x-vapi-secret": ""}, raw, NOW)  # nothing configured: nothing accepted
    stamp = str(NOW // 1000)
    digest = hmac.new(b"s3cret", stamp.encode() + b"." + raw, hashlib.sha256).hexdigest()
    assert vapi_hooks.verify("s3cret", {"x-signature": digest, "x-timestamp": stamp}, raw, NOW)
    assert not vapi_hooks.verify("s3cret", {"x-signature": digest, "x-timestamp": stamp}, raw + b" ", NOW)
    assert not vapi_hooks.verify("s3cret", {"x-signature": digest, "x-timestamp": stamp}, raw, NOW + 600_000)


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


def test_vapi_webhook_secret_comes_from_the_environment() -> None:
    provider = get_provider("vapi")
    found = provider.credentials_from_env({"VAPI_API_KEY": "k", "VAPI_WEBHOOK_SECRET": "s"})
    assert found is not None and found.extra == {"webhook_secret": "s"} and found.base_url == "https://api.vapi.ai"
    assert provider.credentials_from_env({"VAPI_WEBHOOK_SECRET": "s"}) is None

"""The Vapi adapter: request bodies, Call objects and statuses, server messages, webhook authentication."""

from __future__ import annotations

import hashlib
import hmac
from decimal import Decimal

import pytest

from providers import get_provider
from providers.agent_calls import ENDED, FAILED, IN_PROGRESS, QUEUED, RINGING, CallSpec
from providers.base import Credentials
from providers.vapi import webhooks as vapi_hooks
from providers.vapi import wire as vapi_wire
from tests.providers.test_agent_calls import NOW, PHONE


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


def test_vapi_webhook_secret_comes_from_the_environment() -> None:
    provider = get_provider("vapi")
    found = provider.credentials_from_env({"VAPI_API_KEY": "k", "VAPI_WEBHOOK_SECRET": "s"})
    assert found is not None and found.extra == {"webhook_secret": "s"} and found.base_url == "https://api.vapi.ai"
    assert provider.credentials_from_env({"VAPI_WEBHOOK_SECRET": "s"}) is None


def test_a_stored_vapi_key_can_carry_its_own_webhook_secret() -> None:
    provider = get_provider("vapi")
    raw = b"{}"
    own = Credentials("uuid-key:ws-secret", "http://v", {"webhook_secret": "platform-secret"})
    assert provider.verify_webhook(own, {"x-vapi-secret": "ws-secret"}, raw, NOW)  # type: ignore[attr-defined]
    assert not provider.verify_webhook(own, {"x-vapi-secret": "platform-secret"}, raw, NOW)  # type: ignore[attr-defined]
    plain = Credentials("uuid-key", "http://v", {"webhook_secret": "platform-secret"})
    assert provider.verify_webhook(plain, {"x-vapi-secret": "platform-secret"}, raw, NOW)  # type: ignore[attr-defined]

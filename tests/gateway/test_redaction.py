"""Credentials a vendor echoes back never get further than the failover runner.

Every vendor fake below answers 401 with its own error shape carrying the key it was given (like Deepgram's
"Invalid credentials: <key>"); no 10-character piece of any credential may reach the response, a log record or any
table (failover log, health history, usage). The redaction rules themselves are tested on plain strings.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from gateway.errors import ErrorClass, ProviderError
from gateway.redaction import MARK, redact, secrets_of
from providers.base import Credentials
from tests.conftest import make_gateway
from tests.fakes.harness import FakeServer, Fault
from tests.gateway.routing.support import candidate

FRAGMENT = 10


def fragments(secret: str, public: str = "") -> set[str]:
    """Every 10-character piece of ``secret`` except those that are just a piece of ``public`` (the fakes' keys
    contain their vendor's name, which the response carries anyway)."""
    return {secret[i : i + FRAGMENT] for i in range(len(secret) - FRAGMENT + 1)} - {
        public[i : i + FRAGMENT] for i in range(len(public) - FRAGMENT + 1)
    }


# -- the rules ---------------------------------------------------------------------------------------------------
KEY = "dg-live-7f3a9c2e5b1d4086af"


@pytest.mark.parametrize(
    "message",
    [
        f"Invalid credentials: {KEY}",  # echoed whole
        f"Invalid credentials: {KEY}.",  # followed by punctuation
        f"token {KEY[:14]}… rejected",  # echoed in part
        ("x" * 290) + KEY,  # cut by truncation: only a prefix arrives
        f"GET /v1/speak?key={KEY.replace('-', '%2D')}",  # percent-encoded in a URL
        f"Bearer {KEY} and again {KEY}",  # twice
    ],
)
def test_every_piece_of_a_key_is_hidden(message: str) -> None:
    out = redact(message[:300], secrets_of(Credentials(api_key=KEY, base_url="http://x")))
    assert not any(f in out for f in fragments(KEY)), out
    assert MARK in out


def test_extra_secrets_are_hidden_but_base_urls_and_short_values_are_not() -> None:
    creds = Credentials(api_key="AKIAFAKEACCESSKEY01", base_url="http://polly",
                        extra={"secret": "wJalrXUtnFEMI/K7MDENG/bPxRfiCY", "region": "us-east-1",
                               "stt_base_url": "https://speech.googleapis.com"})  # fmt: skip
    message = (
        "sig by AKIAFAKEACCESSKEY01 with wJalrXUtnFEMI/K7MDENG/bPxRfiCY in us-east-1 via https://speech.googleapis.com"
    )
    out = redact(message, secrets_of(creds))
    assert out == f"sig by {MARK} with {MARK} in us-east-1 via https://speech.googleapis.com"


def test_text_without_secrets_is_unchanged() -> None:
    message = "Invalid credentials: check your dashboard"
    assert redact(message, secrets_of(Credentials(api_key=KEY, base_url="http://x"))) == message
    assert redact(message, []) == message


# -- every vendor, end to end --------------------------------------------------------------------------------------
def _echo(vendor: str, key: str) -> Any:
    """The vendor's own 401 body, echoing ``key``."""
    return {
        "deepgram": {"err_code": "INVALID_AUTH", "err_msg": f"Invalid credentials: {key}"},
        "elevenlabs": {"detail": {"status": "invalid_api_key", "message": f"Invalid API key: {key}"}},
        "openai": {
            "error": {
                "message": f"Incorrect API key provided: {key}",
                "type": "invalid_request_error",
                "param": None,
                "code": None,
            }
        },
        "google": {"error": {"code": 401, "message": f"API key not valid: {key}", "status": "UNAUTHENTICATED"}},
        "gemini": {"error": {"code": 401, "message": f"API key not valid: {key}", "status": "UNAUTHENTICATED"}},
        "anthropic": {
            "type": "error",
            "error": {"type": "authentication_error", "message": f"invalid x-api-key {key}"},
            "request_id": "req_1",
        },
        "workers_ai": {
            "result": None,
            "success": False,
            "errors": [{"code": 10000, "message": f"bad token {key}"}],
            "messages": [],
        },
        "polly": {"type": "UnrecognizedClientException", "message": f"The security token {key} is invalid"},
    }[vendor]


# vendor → (env from the fake's URL, the secrets in it, the call that reaches the vendor). The keys are the ones each
# fake accepts, so the request gets past the fake's own key check to the injected 401 that echoes them.
Setup = tuple[Callable[[str], dict[str, str]], list[str], str, dict[str, Any]]
SYNTH = ("/voice/synthesize", {"text": "hello there"})
GENERATE = ("/llm/generate", {"prompt": "hello there"})
VENDORS: dict[str, Setup] = {
    "deepgram": (
        lambda url: {"DEEPGRAM_API_KEY": "test-deepgram-key", "DEEPGRAM_BASE_URL": url},
        ["test-deepgram-key"],
        *SYNTH,
    ),
    "elevenlabs": (
        lambda url: {"ELEVENLABS_API_KEY": "test-elevenlabs-key", "ELEVENLABS_BASE_URL": url},
        ["test-elevenlabs-key"],
        *SYNTH,
    ),
    "openai": (
        lambda url: {"OPENAI_API_KEY": "test-openai-key", "OPENAI_BASE_URL": f"{url}/v1"},
        ["test-openai-key"],
        *SYNTH,
    ),
    "google": (
        lambda url: {"GOOGLE_API_KEY": "test-google-key", "GOOGLE_TTS_BASE_URL": url},
        ["test-google-key"],
        *SYNTH,
    ),
    "polly": (
        lambda url: {
            "AWS_ACCESS_KEY_ID": "test-polly-key",
            "AWS_SECRET_ACCESS_KEY": "test-polly-secret",
            "POLLY_BASE_URL": url,
        },
        ["test-polly-key", "test-polly-secret"],
        *SYNTH,
    ),
    "workers_ai": (
        lambda url: {
            "CLOUDFLARE_ACCOUNT_ID": "acct-test",
            "CLOUDFLARE_API_TOKEN": "test-workers_ai-key",
            "WORKERS_AI_BASE_URL": url,
        },
        ["test-workers_ai-key"],
        *SYNTH,
    ),
    "anthropic": (
        lambda url: {"ANTHROPIC_API_KEY": "test-anthropic-key", "ANTHROPIC_BASE_URL": url},
        ["test-anthropic-key"],
        *GENERATE,
    ),
    "gemini": (
        lambda url: {"GEMINI_API_KEY": "test-gemini-key", "GEMINI_BASE_URL": url},
        ["test-gemini-key"],
        *GENERATE,
    ),
}


@pytest.fixture(params=sorted(VENDORS))
def vendor(request: pytest.FixtureRequest) -> Iterator[tuple[str, FakeServer]]:
    module = importlib.import_module(f"tests.fakes.{request.param}")
    server = FakeServer(None)  # type: ignore[arg-type]
    server.app = module.create_app(server.state)
    with server:
        yield request.param, server


async def _all_stored_text(gw: Any) -> str:
    tables = await gw.db.all("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
    out = []
    for t in tables:
        for row in await gw.db.all(f'SELECT * FROM "{t["name"]}"'):
            out.append(" ".join(str(v) for v in row.values()))
    return "\n".join(out)


async def test_a_vendor_echoing_its_credential_leaks_it_nowhere(
    vendor: tuple[str, FakeServer], caplog: pytest.LogCaptureFixture
) -> None:
    name, fake = vendor
    env_of, secrets, path, body = VENDORS[name]
    caplog.set_level(logging.DEBUG)
    for secret in secrets:
        fake.state.fail(Fault("status", status=401, body=_echo(name, secret)))
    async for gw in make_gateway(env_of(fake.url)):
        for secret in secrets:  # one request per credential echoed (Polly has two)
            r = await gw.client.post(path, json={**body, "provider": name}, headers=gw.auth())
            assert r.status_code == 502, r.text
            attempts = r.json()["error"]["attempts"]
            assert [a["provider"] for a in attempts] == [name] and attempts[0]["error"] == "auth"
            assert MARK in attempts[0]["message"], attempts  # the vendor's message is kept, minus the secret
            seen = r.text + "\n" + "\n".join(f"{k}: {v}" for k, v in r.headers.items())
            assert not any(f in seen for f in fragments(secret, name)), seen
        await gw.settle()
        stored = await _all_stored_text(gw)
    logged = "\n".join(rec.getMessage() + str(rec.args) + (rec.exc_text or "") for rec in caplog.records)
    for secret in secrets:
        for piece in fragments(secret, name):
            assert piece not in logged, f"{name}: a piece of a credential was logged"
            assert piece not in stored, f"{name}: a piece of a credential was stored"


async def test_a_failure_after_the_runner_handed_over_is_scrubbed_too(caplog: pytest.LogCaptureFixture) -> None:
    """Mid-stream and realtime failures reach the runner through ``stream_failed``: the same scrubbing."""
    caplog.set_level(logging.DEBUG)
    async for gw in make_gateway({}):
        secret = "sk-midstream-abcdef0123456789"
        failed = candidate("deepgram", key=secret)
        error = ProviderError("deepgram", ErrorClass.SERVER, f"stream error: bad auth {secret}")
        gw.gateway.failover.stream_failed(failed, error, request_id="req_x", workspace_id=gw.workspace_id,
                                          following=None)  # fmt: skip
        assert error.message == f"stream error: bad auth {MARK}" and str(error) == error.message
        await gw.settle()
        stored = await _all_stored_text(gw)
    logged = "\n".join(rec.getMessage() + str(rec.args) + (rec.exc_text or "") for rec in caplog.records)
    assert "req_x" in stored  # the failover row was written: checked below for the secret
    assert not any(piece in logged or piece in stored for piece in fragments(secret))


async def test_an_adapter_bug_quoting_the_key_is_logged_scrubbed(caplog: pytest.LogCaptureFixture) -> None:
    """An exception that is not a vendor answer (an adapter bug) may quote what was being sent: its logged
    traceback goes through the same scrubbing, and the client sees only the exception's type."""
    from gateway.routing.failover import FailoverPolicy

    caplog.set_level(logging.DEBUG)
    secret = "sk-in-a-url-0123456789abcdef"
    async for gw in make_gateway({}):

        async def attempt(candidate: Any, call: Any) -> None:
            raise RuntimeError(f"could not send GET https://vendor.test/v1/speak?key={secret}")

        with pytest.raises(Exception) as caught:
            await gw.gateway.failover.run([candidate("deepgram", key=secret)], attempt,
                                          policy=FailoverPolicy(attempt_timeout=1, deadline=2), request_id="req_bug",
                                          workspace_id=gw.workspace_id)  # fmt: skip
        assert hasattr(caught.value, "attempts")
        assert secret not in str(caught.value.attempts) and secret not in str(caught.value)
    logged = "\n".join(rec.getMessage() + (rec.exc_text or "") for rec in caplog.records)
    assert "raised unexpectedly" in logged and MARK in logged
    assert not any(piece in logged for piece in fragments(secret))

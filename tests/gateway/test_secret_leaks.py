"""No secret ever leaves: after a run that uses vendor keys from the environment, the platform (KV) and a
workspace (BYOK), plus the admin token and workspace API keys, no response body or header and no log record (DEBUG
and up, every logger) contains any of them, whole or in part. Stored vendor keys are ciphertext."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from gateway.routing.directory import PLATFORM_KEY_PREFIX
from tests.conftest import ADMIN_TOKEN, GatewayHarness, make_gateway
from tests.fakes.audio import sine_wav
from tests.fakes.harness import FakeServer

ENV_OPENAI = "sk-env-openai-9f8e7d6c5b4a39281706"
ENV_DEEPGRAM = "env-deepgram-5a4b3c2d1e0f99887766"
BYOK_OPENAI = "sk-byok-workspace-0123456789abcdef"
PLATFORM_DEEPGRAM = "test-deepgram-key"  # the only key the Deepgram fake accepts
FRAGMENT = 10  # any 10 consecutive characters of a secret count as a leak


@pytest.fixture
async def leaky(openai_fake: FakeServer, deepgram_fake: FakeServer) -> AsyncIterator[GatewayHarness]:
    env = {
        "OPENAI_API_KEY": ENV_OPENAI,
        "OPENAI_BASE_URL": f"{openai_fake.url}/v1",
        "DEEPGRAM_API_KEY": ENV_DEEPGRAM,
        "DEEPGRAM_BASE_URL": deepgram_fake.url,
    }
    async for harness in make_gateway(env):
        yield harness


def fragments(secret: str) -> set[str]:
    return {secret[i : i + FRAGMENT] for i in range(len(secret) - FRAGMENT + 1)} if len(secret) > FRAGMENT else {secret}


async def test_no_secret_in_any_response_or_log(
    leaky: GatewayHarness, openai_fake: FakeServer, deepgram_fake: FakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    gw = leaky
    caplog.set_level(logging.DEBUG)  # the root logger: every library's debug output is captured too
    seen: list[tuple[str, str]] = []  # (where, text)
    shown_once: set[str] = set()  # responses that are allowed to carry a new workspace key (its creation)

    async def capture(response: httpx.Response) -> None:
        await response.aread()
        where = f"{response.request.method} {response.request.url.path} → {response.status_code}"
        headers = "\n".join(f"{k}: {v}" for k, v in response.headers.items())
        seen.append((where, headers + "\n" + response.text))

    gw.client.event_hooks["response"].append(capture)
    openai_fake.state.options["api_key"] = BYOK_OPENAI
    admin = gw.admin

    async def call(method: str, path: str, **kwargs: Any) -> httpx.Response:
        return await gw.client.request(method, path, **kwargs)

    # Keys: the platform's Deepgram key (KV), the workspace's own OpenAI key (BYOK), a second key.
    r = await call(
        "PUT", "/admin/platform/providers/deepgram", json={"enabled": True, "apiKey": PLATFORM_DEEPGRAM}, headers=admin
    )
    assert r.status_code == 200
    r = await call(
        "PUT",
        f"/admin/workspaces/{gw.workspace_id}/providers/openai",
        json={"enabled": True, "apiKey": BYOK_OPENAI},
        headers=admin,
    )
    assert r.status_code == 200
    r = await call("POST", f"/admin/workspaces/{gw.workspace_id}/keys", headers=admin)
    second_key = r.json()["key"]
    shown_once.add(seen[-1][0])

    # Spend with them: BYOK (OpenAI), platform key (Deepgram), streaming, LLM, OpenAI-compatible routes.
    assert (
        await call("POST", "/voice/synthesize", json={"text": "hello", "provider": "openai"}, headers=gw.auth())
    ).status_code == 200
    assert (
        await call(
            "POST", "/voice/synthesize", json={"text": "hello", "provider": "deepgram"}, headers=gw.auth(second_key)
        )
    ).status_code == 200
    r = await call(
        "POST",
        "/voice/transcribe?provider=deepgram",
        content=sine_wav(1.0),
        headers={**gw.auth(), "Content-Type": "audio/wav"},
    )
    assert r.status_code == 200
    assert (await call("POST", "/voice/stream", json={"text": "One. Two."}, headers=gw.auth())).status_code == 200
    await call("POST", "/llm/generate", json={"prompt": "hi"}, headers=gw.auth())
    await call(
        "POST",
        "/v1/chat/completions",
        json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
        headers=gw.auth(),
    )

    # Failures that carry vendor messages: a workspace on the environment's OpenAI key, which the fake rejects
    # (its 401 body quotes the key, masked like OpenAI's), and a workspace whose BYOK is wrong.
    r = await call("POST", "/admin/workspaces", json={"name": "env-only"}, headers=admin)
    env_ws = r.json()["id"]
    env_key = (await call("POST", f"/admin/workspaces/{env_ws}/keys", headers=admin)).json()["key"]
    shown_once.add(seen[-1][0])
    r = await call("POST", "/voice/synthesize", json={"text": "hello", "provider": "openai"}, headers=gw.auth(env_key))
    assert r.status_code >= 500 and "attempts" in r.json()["error"]
    r = await call(
        "PUT",
        f"/admin/workspaces/{env_ws}/providers/openai",
        json={"enabled": True, "apiKey": BYOK_OPENAI + "-wrong"},
        headers=admin,
    )
    r = await call("POST", "/voice/synthesize", json={"text": "hello", "provider": "openai"}, headers=gw.auth(env_key))
    assert r.status_code >= 500

    # Auth failures, reads, reports, health.
    await call("GET", "/admin/workspaces", headers={"Authorization": f"Bearer {ADMIN_TOKEN}x"})
    await call("GET", "/usage", headers={"Authorization": f"Bearer {gw.key}x"})
    for path in (
        "/admin/workspaces",
        f"/admin/workspaces/{gw.workspace_id}",
        f"/admin/workspaces/{env_ws}",
        f"/admin/usage?workspaceId={gw.workspace_id}",
        "/admin/failovers",
        "/health/detailed",
        "/voice/providers/health",
        "/health",
    ):
        await call("GET", path, headers=admin)
    await call("GET", "/usage", headers=gw.auth())
    await call("GET", "/v1/models", headers=gw.auth())
    await gw.settle()

    secrets_ = {
        "OPENAI env key": ENV_OPENAI,
        "Deepgram env key": ENV_DEEPGRAM,
        "OpenAI BYOK": BYOK_OPENAI,
        "Deepgram platform key": PLATFORM_DEEPGRAM,
        "admin token": ADMIN_TOKEN,
        "KEY_ENCRYPTION_KEY": gw.gateway.settings.key_encryption_key,
    }
    api_keys = {"workspace key": gw.key, "second key": second_key, "env workspace key": env_key}
    records = [(f"log {rec.name}:{rec.levelname}", rec.getMessage() + (rec.exc_text or "")) for rec in caplog.records]
    assert len(seen) >= 25 and records  # the run really happened and logged
    for where, text in seen + records:
        for name, secret in {**secrets_, **api_keys}.items():
            if name in api_keys and where in shown_once:
                continue
            assert secret not in text, f"{name} leaked in {where}"
            for piece in fragments(secret):
                assert piece not in text, f"part of the {name} leaked in {where}"

    # At rest: vendor keys only as ciphertext, API keys only as hashes.
    stored = await gw.db.all("SELECT * FROM workspace_provider_configs")
    stored += await gw.db.all("SELECT * FROM api_keys")
    stored_text = repr(stored) + repr(await gw.gateway.runtime.kv.get(PLATFORM_KEY_PREFIX + "deepgram"))
    for name, secret in {**secrets_, **api_keys}.items():
        assert secret not in stored_text, f"{name} stored in clear"

"""On the edge the built-in vendor is Workers AI through the ``AI`` binding: usable with no key at all, last in line
after keyed vendors, and served without any HTTP."""

from __future__ import annotations

import httpx

from tests.conftest import ADMIN_TOKEN
from tests.providers.test_workers_ai import StandInAI


async def _gateway(extra_env: dict[str, str]):  # type: ignore[no-untyped-def]
    from gateway.app import create_app
    from runtimes.local.runtime import build_local_runtime

    runtime = await build_local_runtime(None, {"ADMIN_TOKEN": ADMIN_TOKEN, **extra_env})
    ai = StandInAI()
    runtime.extras["AI"] = ai
    return runtime, create_app(runtime), ai


async def test_binding_alone_makes_workers_ai_a_builtin_candidate_and_serves_speech() -> None:
    runtime, app, ai = await _gateway({})
    try:
        gateway = app.state.gateway
        workspace = await gateway.workspaces.create("edge", None, {})
        from providers.base import Capability

        candidates = await gateway.directory.candidates(workspace.id, Capability.TTS)
        builtin = {c.id: c.source for c in candidates if c.source == "builtin"}
        assert builtin.get("workers_ai") == "builtin"

        from gateway.auth import generate_key

        key, prefix, digest = generate_key()
        await gateway.workspaces.add_key(workspace.id, prefix, digest, "edge")
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://edge") as client:
            r = await client.post(
                "/voice/synthesize",
                json={"text": "hello from the edge", "provider": "workers_ai"},
                headers={"Authorization": f"Bearer {key}"},
            )
        assert r.status_code == 200, r.text
        assert r.headers["x-provider"] == "workers_ai" and r.content[:2] == b"\xff\xfb"
        assert [call[0] for call in ai.calls] == ["@cf/deepgram/aura-1"]
    finally:
        for close in runtime.on_close:
            await close()


async def test_keyed_vendors_come_before_the_binding_and_a_platform_switch_turns_it_off() -> None:
    runtime, app, _ = await _gateway({"OPENAI_API_KEY": "sk-test"})
    try:
        gateway = app.state.gateway
        workspace = await gateway.workspaces.create("edge", None, {})
        from providers.base import Capability

        order = [(c.id, c.source) for c in await gateway.directory.candidates(workspace.id, Capability.TTS)]
        assert order[0] == ("openai", "env")
        assert ("workers_ai", "builtin") in order[1:]
        await gateway.provider_configs.put_settings({"builtin_fallback_enabled": "false"})
        gateway.directory.invalidate()
        ids = [c.id for c in await gateway.directory.candidates(workspace.id, Capability.TTS)]
        assert "workers_ai" not in ids and "local" not in ids and "openai" in ids
    finally:
        for close in runtime.on_close:
            await close()

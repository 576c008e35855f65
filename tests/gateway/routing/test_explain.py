"""A 503 says what was asked and who could serve it: the candidate filter's own test, asked of every vendor."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from gateway.routing.explain import could_serve
from providers.base import Capability, SynthesisRequest
from tests.conftest import GatewayHarness, make_gateway, require_modules

require_modules("espeakng_loader")


@pytest.fixture
async def builtin_only() -> AsyncIterator[GatewayHarness]:
    async for harness in make_gateway({}, builtin=True):
        yield harness


@pytest.fixture
async def nothing_configured() -> AsyncIterator[GatewayHarness]:
    async for harness in make_gateway({}, builtin=False):
        yield harness


def test_could_serve_asks_every_vendor_the_same_question() -> None:
    flac = SynthesisRequest(text="hi", format="wav", sample_rate=96000)
    able = could_serve(Capability.TTS, lambda c: c.provider.supports_synthesis(flac))
    assert "local" not in able  # 96 kHz is past what the built-in engine makes
    mp3 = SynthesisRequest(text="hi", format="mp3")
    assert {"openai", "local"} <= set(could_serve(Capability.TTS, lambda c: c.provider.supports_synthesis(mp3)))
    assert could_serve(Capability.TTS, lambda c: False) == []
    assert could_serve(Capability.TTS, lambda c: 1 / 0) == []  # a failing check is "cannot", never a 500


async def test_503_names_the_request_the_vendors_that_could_and_what_the_builtin_engine_makes(
    builtin_only: GatewayHarness,
) -> None:
    gw = builtin_only
    r = await gw.client.post(
        "/voice/synthesize",
        headers=gw.auth(),
        json={"text": "hello", "voiceConfig": {"format": "wav", "language": "tlh"}},
    )
    assert r.status_code == 503, r.text
    error = r.json()["error"]
    assert error["type"] == "no_providers_available" and error["request_id"]
    message = error["message"]
    assert message.startswith("no configured vendor can serve speech in wav in 'tlh'; it needs one of: ")
    able = message.split("it needs one of: ", 1)[1].split(";", 1)[0].split(", ")
    assert "local" not in able and "openai" in able
    assert "the built-in engine (local) makes flac, mp3, opus, pcm, wav at 8000-48000 Hz" in message


async def test_nothing_configured_names_the_vendors_to_configure(nothing_configured: GatewayHarness) -> None:
    gw = nothing_configured
    r = await gw.client.post(
        "/v1/audio/speech",
        headers=gw.auth(),
        json={"model": "tts-1", "voice": "alloy", "input": "hi", "response_format": "opus"},
    )
    assert r.status_code == 503, r.text
    message = r.json()["error"]["message"]
    assert message.startswith("no vendor is configured for tts; speech in opus needs one of: openai, ")
    assert "local" in message  # the built-in engine could, were the platform not to have turned it off

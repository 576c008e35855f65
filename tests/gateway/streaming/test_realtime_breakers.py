"""Realtime sessions honour the breakers and 429 cool-downs the HTTP failover keeps, at the start and mid-session,
and feed them: Deepgram and Workers AI (both on the WebSocket fake), real server, real sockets."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from websockets.asyncio.client import connect

from gateway.errors import ErrorClass
from gateway.routing.breaker import CLOSED, OPEN, Admission, key_fingerprint
from tests.fakes.deepgram_ws import WORDS, speak_audio, utterance
from tests.fakes.harness import FakeServer, Fault

from .conftest import GatewayServer, deepgram_ws_env, running_gateway, workers_ws_env
from .test_realtime import CHUNK, RATE, collect, finals, send_audio, session

SPEECH = utterance([0, 1, 2, 3]) + utterance([4, 5, 6, 7, 8, 9])
WORKERS_PATH = "/v1/acct/default/workers-ai"
FINGERPRINTS = {"deepgram": key_fingerprint("test-deepgram-key"), "workers_ai": key_fingerprint("test-cf-token")}


@pytest.fixture
async def two_vendors(deepgram_ws: FakeServer) -> AsyncIterator[GatewayServer]:
    async for server in running_gateway({**deepgram_ws_env(deepgram_ws), **workers_ws_env(deepgram_ws)}):
        yield server


async def open_breaker(gw: GatewayServer, vendor: str) -> None:
    """What three failed HTTP calls to this vendor would leave behind (an auth failure opens it at once)."""

    async def work() -> None:
        gw.app.state.gateway.failover.breakers.record(vendor, FINGERPRINTS[vendor], ErrorClass.AUTH, Admission.ALLOWED)

    await gw.in_server(work())


async def breaker_state(gw: GatewayServer, vendor: str) -> tuple[str, float]:
    async def work() -> tuple[str, float]:
        breakers = gw.app.state.gateway.failover.breakers
        return breakers.state(vendor, FINGERPRINTS[vendor]), breakers.cooling_for(vendor, FINGERPRINTS[vendor])

    return await gw.in_server(work())


def paths(fake: FakeServer) -> list[str]:
    return [r.path for r in fake.state.requests]


def model_of(fake: FakeServer, index: int) -> str:
    return fake.state.requests[index].query


async def test_a_session_skips_a_vendor_whose_breaker_is_open(
    two_vendors: GatewayServer, deepgram_ws: FakeServer
) -> None:
    await open_breaker(two_vendors, "deepgram")
    events, code = await session(two_vendors, SPEECH)
    assert code == 1000 and finals(events) == " ".join(WORDS[:10])
    assert paths(deepgram_ws) == [WORKERS_PATH]  # Deepgram was never contacted
    rows = await two_vendors.usage_rows()
    assert [(r["provider"], r["model"]) for r in rows] == [("workers_ai", "@cf/deepgram/flux")]


async def mid_session(gw: GatewayServer, during: Any) -> list[dict[str, Any]]:
    """A session whose first second of audio goes out, then ``during`` runs in the server, then the rest."""
    url = f"{gw.ws_url}/voice/realtime?model=flux&sample_rate={RATE}"
    async with connect(url, additional_headers={"Authorization": f"Bearer {gw.key}"}) as ws:
        reader = asyncio.ensure_future(collect(ws))
        first_second = RATE * 2
        await send_audio(ws, SPEECH[:first_second])
        await during()
        await send_audio(ws, SPEECH[first_second:])
        await ws.send(json.dumps({"type": "CloseStream"}))
        return await asyncio.wait_for(reader, 10)


async def test_a_mid_session_switch_skips_a_vendor_whose_breaker_opened_meanwhile(
    two_vendors: GatewayServer, deepgram_ws: FakeServer
) -> None:
    deepgram_ws.state.fail(Fault("cut", delay=2.7))  # Deepgram's Flux drops in the second turn

    async def workers_breaker_opens() -> None:
        await open_breaker(two_vendors, "workers_ai")

    events = await mid_session(two_vendors, workers_breaker_opens)
    switch = [e for e in events if e["type"] == "provider_switch"]
    # Without the breaker the next leg is Workers AI's Flux (see the control below); with it open, Deepgram's Nova.
    assert [(s["from"], s["to"], s["model"]) for s in switch] == [("deepgram", "deepgram", "nova-3")]
    assert finals(events) == " ".join(WORDS[:10])
    assert paths(deepgram_ws) == ["/v2/listen", "/v1/listen"]
    failovers = await two_vendors.failover_rows()
    assert [(f["from_provider"], f["to_provider"], f["error_class"]) for f in failovers] == [
        ("deepgram", "deepgram", "connection")
    ]


async def test_control_without_the_breaker_the_switch_goes_to_the_next_vendor(
    two_vendors: GatewayServer, deepgram_ws: FakeServer
) -> None:
    deepgram_ws.state.fail(Fault("cut", delay=2.7))

    async def nothing() -> None:
        return None

    events = await mid_session(two_vendors, nothing)
    switch = [e for e in events if e["type"] == "provider_switch"]
    assert [(s["from"], s["to"], s["model"]) for s in switch] == [("deepgram", "workers_ai", "flux")]
    assert paths(deepgram_ws) == ["/v2/listen", WORKERS_PATH]


async def test_leg_failures_feed_the_breaker_and_the_cool_down(
    two_vendors: GatewayServer, deepgram_ws: FakeServer
) -> None:
    # Deepgram's Flux answers 429 (cooling its credential), Workers AI's Flux 503: the next leg in the list is
    # Deepgram's Nova, but that credential is cooling, so Workers AI's Nova is tried first.
    deepgram_ws.state.fail(Fault("status", status=429), Fault("status", status=503))
    events, code = await session(two_vendors, SPEECH)
    assert code == 1000 and finals(events) == " ".join(WORDS[:10])
    assert paths(deepgram_ws) == ["/v2/listen", WORKERS_PATH, WORKERS_PATH]
    assert "nova-3" in model_of(deepgram_ws, 2)
    rows = await two_vendors.usage_rows()
    assert [(r["provider"], r["model"]) for r in rows] == [("workers_ai", "@cf/deepgram/nova-3")]
    state, cooling = await breaker_state(two_vendors, "deepgram")
    assert state == CLOSED and cooling > 0  # a 429 cools the credential; it does not count against the breaker

    # A rejected key opens Deepgram's breaker at once (Nova, the last resort, is forced and rejected too): the next
    # session does not knock on that door again.
    deepgram_ws.state.reset()
    deepgram_ws.state.fail(Fault("status", status=401), Fault("status", status=401))
    events, code = await session(two_vendors, SPEECH[: CHUNK * 5], query="model=flux&provider=deepgram")
    assert code == 1011 and paths(deepgram_ws) == ["/v2/listen", "/v1/listen"]
    assert (await breaker_state(two_vendors, "deepgram"))[0] == OPEN
    deepgram_ws.state.reset()
    events, code = await session(two_vendors, SPEECH)
    assert code == 1000 and WORKERS_PATH in paths(deepgram_ws) and "/v2/listen" not in paths(deepgram_ws)


async def test_a_speak_session_skips_a_vendor_whose_breaker_is_open(
    two_vendors: GatewayServer, deepgram_ws: FakeServer
) -> None:
    async def first_vendor() -> str:
        url = f"{two_vendors.ws_url}/voice/speak-stream?sample_rate=24000"
        async with connect(url, additional_headers={"Authorization": f"Bearer {two_vendors.key}"}) as ws:
            await ws.send(json.dumps({"type": "Speak", "text": "Hello there."}))
            await ws.send(json.dumps({"type": "Flush"}))
            audio = b""
            while True:
                message = await asyncio.wait_for(ws.recv(), 5)
                if isinstance(message, bytes):
                    audio += message
                    continue
                flushed = json.loads(message)
                if flushed["type"] == "Flushed":
                    break
            await ws.send(json.dumps({"type": "Close"}))
        assert audio == speak_audio("Hello there.", 24000)
        return str(flushed["provider"])

    usual = await first_vendor()
    await open_breaker(two_vendors, usual)
    other = await first_vendor()
    assert {usual, other} == {"deepgram", "workers_ai"}

"""/voice/realtime over real WebSockets: auth, relaying, and failover from a dying Flux to Nova with replay."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.fakes.deepgram_ws import WORDS, utterance
from tests.fakes.harness import FakeServer, Fault

from .conftest import GatewayServer, deepgram_ws_env, running_gateway, workers_ws_env

RATE = 16000
CHUNK = RATE * 2 // 10  # 100 ms of linear16


async def send_audio(ws: ClientConnection, audio: bytes, pace: float = 0.002) -> None:
    for start in range(0, len(audio), CHUNK):
        await ws.send(audio[start : start + CHUNK])
        await asyncio.sleep(pace)  # faster than real time, but in order and interleaved with the vendor's answers


async def collect(ws: ClientConnection) -> list[dict[str, Any]]:
    events = []
    try:
        async for message in ws:
            assert isinstance(message, str), "speech-to-text sessions send JSON events only"
            events.append(json.loads(message))
    except ConnectionClosed:
        pass
    return events


def finals(events: list[dict[str, Any]]) -> str:
    return " ".join(e["text"] for e in events if e["type"] == "transcript" and e["is_final"] and e["text"])


async def session(gw: GatewayServer, audio: bytes, query: str = "model=flux", **connect_args: Any):
    headers = connect_args.pop("headers", {"Authorization": f"Bearer {gw.key}"})
    async with connect(
        f"{gw.ws_url}/voice/realtime?{query}&sample_rate={RATE}", additional_headers=headers, **connect_args
    ) as ws:
        reader = asyncio.ensure_future(collect(ws))
        await send_audio(ws, audio)
        await ws.send(json.dumps({"type": "CloseStream"}))
        events = await asyncio.wait_for(reader, 10)
        return events, ws.close_code


SPEECH = utterance([0, 1, 2, 3]) + utterance([4, 5, 6, 7, 8, 9])  # two turns, 4.2 s of audio


async def test_flux_session_relays_turns_and_ends_with_cost(dg_gateway: GatewayServer, deepgram_ws: FakeServer) -> None:
    events, code = await session(dg_gateway, SPEECH)
    assert code == 1000
    assert finals(events) == " ".join(WORDS[:10])
    turns = [(e["event"], e["turn_index"]) for e in events if e["type"] == "turn"]
    assert turns == [("StartOfTurn", 0), ("EndOfTurn", 0), ("StartOfTurn", 1), ("EndOfTurn", 1)]
    end = events[-1]
    assert end["type"] == "session_end" and end["duration"] == pytest.approx(4.2, abs=0.01)
    assert all(e.get("provider") == "deepgram" for e in events if e["type"] in ("transcript", "turn"))
    rows = await dg_gateway.usage_rows()
    assert [(r["provider"], r["model"], r["segment"], r["resource"]) for r in rows] == [
        ("deepgram", "flux-general-en", 0, "stt")
    ]
    assert rows[0]["audio_seconds"] == pytest.approx(4.2, abs=0.01)
    assert end["cost"] == pytest.approx(rows[0]["final_cost_micros"] / 1e6)
    assert deepgram_ws.state.requests[0].path == "/v2/listen"
    assert deepgram_ws.state.requests[0].headers["authorization"] == "Token test-deepgram-key"


async def test_flux_dies_mid_utterance_and_nova_finishes_the_transcript(
    dg_gateway: GatewayServer, deepgram_ws: FakeServer
) -> None:
    # Flux hears the first turn, then drops the TCP connection 0.9 s into the second one (after "echo foxtrot golf").
    deepgram_ws.state.fail(Fault("cut", delay=2.7))
    events, code = await session(dg_gateway, SPEECH)
    assert code == 1000
    switch = [e for e in events if e["type"] == "provider_switch"]
    assert len(switch) == 1 and switch[0]["from"] == "deepgram" and switch[0]["model"] == "nova-3"
    # The replay starts just before the last final (the end of turn one), not at the failure.
    assert 1.0 < switch[0]["replayed_seconds"] < 2.2
    assert finals(events) == " ".join(WORDS[:10])  # complete, nothing twice
    providers_of_finals = [e["provider"] for e in events if e["type"] == "transcript" and e["is_final"] and e["text"]]
    assert providers_of_finals == ["deepgram", "deepgram"]
    # Turns stay consistent across the switch: Nova's speech_final closes the turn Flux opened.
    turns = [(e["event"], e["turn_index"]) for e in events if e["type"] == "turn"]
    assert turns == [("StartOfTurn", 0), ("EndOfTurn", 0), ("StartOfTurn", 1), ("EndOfTurn", 1)]
    assert [e for e in events if e["type"] == "turn"][-1]["transcript"] == " ".join(WORDS[4:10])
    paths = [r.path for r in deepgram_ws.state.requests]
    assert paths == ["/v2/listen", "/v1/listen"]
    rows = await dg_gateway.usage_rows()
    assert [(r["model"], r["segment"]) for r in rows] == [("flux-general-en", 0), ("nova-3", 1)]
    nova_heard = deepgram_ws.state.options["sessions"][1]["audio_seconds"]
    assert rows[1]["audio_seconds"] == pytest.approx(nova_heard, abs=0.01)
    # Flux is billed for what the gateway sent it: at least what it heard before dying, at most the whole speech.
    assert 2.7 <= rows[0]["audio_seconds"] <= 4.2
    end = events[-1]
    assert end["type"] == "session_end" and [s["model"] for s in end["segments"]] == ["flux", "nova-3"]
    assert end["cost"] == pytest.approx(sum(r["final_cost_micros"] for r in rows) / 1e6)
    failovers = await dg_gateway.failover_rows()
    assert [(f["from_provider"], f["error_class"], f["result"]) for f in failovers] == [
        ("deepgram", "connection", "switched")
    ]


async def test_stalled_vendor_is_replaced(dg_gateway: GatewayServer, deepgram_ws: FakeServer) -> None:
    deepgram_ws.state.fail(Fault("hang", delay=1.0))
    events, code = await session(dg_gateway, SPEECH + utterance([10, 11]))
    assert code == 1000
    assert [e["type"] for e in events].count("provider_switch") == 1
    assert finals(events) == " ".join(WORDS[:12])
    failovers = await dg_gateway.failover_rows()
    assert failovers[0]["error_class"] == "timeout"


async def test_handshake_rejections_fail_over_to_the_next_leg(
    dg_gateway: GatewayServer, deepgram_ws: FakeServer
) -> None:
    deepgram_ws.state.fail(Fault("status", status=429))  # Flux refuses the upgrade: Nova-3 serves the session
    events, code = await session(dg_gateway, SPEECH)
    assert code == 1000
    assert finals(events) == " ".join(WORDS[:10])
    assert not [e for e in events if e["type"] == "provider_switch"]  # nothing had been relayed yet
    rows = await dg_gateway.usage_rows()
    assert [(r["model"], r["segment"]) for r in rows] == [("nova-3", 0)]
    failovers = await dg_gateway.failover_rows()
    assert [(f["error_class"], f["result"]) for f in failovers] == [("rate_limited", "switched")]


async def test_every_vendor_refusing_ends_with_an_error_event(
    dg_gateway: GatewayServer, deepgram_ws: FakeServer
) -> None:
    deepgram_ws.state.fail(Fault("status", status=401), Fault("status", status=503))
    events, code = await session(dg_gateway, SPEECH[:CHUNK])
    assert code == 1011
    assert events[0]["type"] == "error" and events[0]["error"]["type"] == "upstream_error"
    assert events[-1]["type"] == "session_end" and events[-1]["cost"] == 0


async def test_subprotocol_auth_is_echoed(dg_gateway: GatewayServer) -> None:
    protocol = f"vgw-key.{dg_gateway.key}"
    async with connect(f"{dg_gateway.ws_url}/voice/realtime?model=nova-3", subprotocols=[protocol]) as ws:  # type: ignore[list-item]
        assert ws.subprotocol == protocol
        reader = asyncio.ensure_future(collect(ws))
        await send_audio(ws, utterance([3, 4]))
        await ws.send(json.dumps({"type": "CloseStream"}))
        events = await asyncio.wait_for(reader, 10)
    assert finals(events) == "delta echo"
    assert ws.close_code == 1000


@pytest.mark.parametrize(
    "headers, subprotocols",
    [({}, None), ({"Authorization": "Bearer vgw_nope_nope"}, None), ({}, ["vgw-key.vgw_bad_key"])],
)
async def test_bad_auth_closes_4401_before_any_vendor_is_contacted(
    dg_gateway: GatewayServer, deepgram_ws: FakeServer, headers: dict[str, str], subprotocols: list[str] | None
) -> None:
    async with connect(
        f"{dg_gateway.ws_url}/voice/realtime", additional_headers=headers, subprotocols=subprotocols
    ) as ws:  # type: ignore[arg-type]
        events = await asyncio.wait_for(collect(ws), 5)
    assert ws.close_code == 4401
    assert events == [
        {
            "type": "error",
            "error": {
                "type": "unauthorized",
                "message": events[0]["error"]["message"],
                "request_id": events[0]["error"]["request_id"],
            },
        }
    ]
    assert deepgram_ws.state.requests == []


async def test_bad_query_closes_4400(dg_gateway: GatewayServer, deepgram_ws: FakeServer) -> None:
    async with connect(
        f"{dg_gateway.ws_url}/voice/realtime?encoding=opus",
        additional_headers={"Authorization": f"Bearer {dg_gateway.key}"},
    ) as ws:
        events = await asyncio.wait_for(collect(ws), 5)
    assert ws.close_code == 4400 and events[0]["error"]["type"] == "invalid_request"
    assert deepgram_ws.state.requests == []


@pytest.mark.parametrize("model, path", [("flux", "/v2/listen"), ("nova-3", "/v1/listen")])
async def test_keepalive_holds_a_silent_client(deepgram_ws: FakeServer, model: str, path: str) -> None:
    """The vendor closes after 0.8 s without audio; the relay keeps it alive the way each vendor requires (Nova: a
    KeepAlive text frame; Flux: silence, since a JSON KeepAlive ends a Flux session)."""
    deepgram_ws.state.options["idle_timeout"] = 0.8
    env = {**deepgram_ws_env(deepgram_ws), "REALTIME_KEEPALIVE_SECONDS": "0.25"}
    async for gw in running_gateway(env):
        async with connect(
            f"{gw.ws_url}/voice/realtime?model={model}&sample_rate={RATE}",
            additional_headers={"Authorization": f"Bearer {gw.key}"},
        ) as ws:
            reader = asyncio.ensure_future(collect(ws))
            await send_audio(ws, utterance([1, 2]))
            await asyncio.sleep(1.5)  # the client says nothing for longer than the vendor's idle limit
            await send_audio(ws, utterance([3]))
            await ws.send(json.dumps({"type": "CloseStream"}))
            events = await asyncio.wait_for(reader, 10)
    assert not [e for e in events if e["type"] in ("provider_switch", "error")]
    assert finals(events) == "bravo charlie delta"
    assert [r.path for r in deepgram_ws.state.requests] == [path]


async def test_workers_ai_flux_through_ai_gateway(deepgram_ws: FakeServer) -> None:
    async for gw in running_gateway({**workers_ws_env(deepgram_ws), **deepgram_ws_env(deepgram_ws)}):
        events, code = await session(gw, SPEECH, query="model=flux&provider=workers_ai")
        rows = await gw.usage_rows()
    assert code == 1000 and finals(events) == " ".join(WORDS[:10])
    request = deepgram_ws.state.requests[0]
    assert request.path == "/v1/acct/default/workers-ai"
    assert "model=%40cf%2Fdeepgram%2Fflux" in request.query and "encoding=linear16" in request.query
    assert request.headers["cf-aig-authorization"] == "Bearer test-cf-token"
    assert [(r["provider"], r["model"]) for r in rows] == [("workers_ai", "@cf/deepgram/flux")]

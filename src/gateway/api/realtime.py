"""WebSocket routes: ``GET /voice/realtime`` (streaming speech-to-text) and ``GET /voice/speak-stream`` (streaming
text-to-speech), both relayed to vendor WebSockets with failover.

Authentication happens before any vendor is contacted: ``Authorization: Bearer <key>`` or, for browsers that cannot
set headers, ``Sec-WebSocket-Protocol: vgw-key.<key>`` (that subprotocol is echoed). Failures are reported *after*
accepting the socket — an error event ``{"type": "error", "error": {"type", "message", "request_id"}}`` then a close
with ``4000 + HTTP status`` (4401 unauthorized, 4403 forbidden, 4400 invalid request, 4429 limited, 4503 nothing to
try, the reason naming the vendors that could serve the session if configured) — because a refused upgrade gives a browser no reason at all.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect, WebSocketState

from gateway.api.deps import Caller
from gateway.auth import bearer_token
from gateway.billing import Charge
from gateway.errors import ErrorClass, Forbidden, GatewayError, InvalidRequest, ProviderError
from gateway.middleware import request_id_of
from gateway.pipeline.entry import authenticate_token
from gateway.pipeline.usage import UsageEvent
from gateway.ports import UpstreamWebSocket
from gateway.routing.legs import LegPlan
from gateway.routing.select import select_candidates
from gateway.services import Gateway
from gateway.speech_cache.segments import SegmentCache
from gateway.streaming.config import StreamingConfig
from gateway.streaming.listen_relay import Leg, ListenRelay, Segment, SessionHooks
from gateway.streaming.speak_relay import SpeakLeg, SpeakRelay
from providers.base import Call, Capability
from providers.realtime.catalog import listen_model, listen_models, listen_routes, speak_routes
from providers.realtime.routes import ListenOptions, SpeakOptions

router = APIRouter(tags=["voice"])

SUBPROTOCOL_PREFIX = "vgw-key."
SAMPLE_RATES = frozenset({8000, 16000, 24000, 32000, 44100, 48000})


class StarletteClient:
    """``ClientSocket`` over Starlette's WebSocket: None once the client is gone; sends to a gone client are no-ops."""

    def __init__(self, websocket: WebSocket) -> None:
        self.websocket = websocket

    async def receive(self) -> str | bytes | None:
        try:
            message = await self.websocket.receive()
        except (WebSocketDisconnect, RuntimeError):
            return None
        if message["type"] == "websocket.disconnect":
            return None
        if message.get("bytes") is not None:
            return message["bytes"]  # type: ignore[no-any-return]
        return message.get("text") or ""

    async def send_json(self, data: dict[str, Any]) -> None:
        with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
            await self.websocket.send_text(json.dumps(data))

    async def send_bytes(self, data: bytes) -> None:
        with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
            await self.websocket.send_bytes(data)

    async def close(self, code: int, reason: str = "") -> None:
        if self.websocket.client_state != WebSocketState.DISCONNECTED:
            with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
                await self.websocket.close(code, reason[:120])


def credentials_of(websocket: WebSocket) -> tuple[str | None, str | None]:
    """(API key, the subprotocol to echo) from the Authorization header or a ``vgw-key.<key>`` subprotocol."""
    token = bearer_token(websocket.headers.get("authorization"))
    for offered in websocket.scope.get("subprotocols") or []:
        if offered.startswith(SUBPROTOCOL_PREFIX):
            return token or offered[len(SUBPROTOCOL_PREFIX) :], offered
    return token, None


async def _authenticate(websocket: WebSocket, token: str | None) -> Caller:
    found = await authenticate_token(websocket.app.state.gateway, token, websocket.scope)
    if found.workspace is None:
        raise Forbidden("realtime sessions need a workspace API key, not the admin token")
    return found


async def _admit(found: Caller, websocket: WebSocket, estimate: Decimal) -> None:
    """The workspace's limits: a realtime session holds one ``concurrentStreams`` slot until the handler returns."""
    from gateway.limits.admission import admit

    assert found.workspace is not None
    await admit(
        found.gateway.limits, websocket.scope, workspace_id=found.workspace.id, key_id=found.principal.key_id,
        workspace_limits=found.workspace.limits, request_id=found.request_id,
        estimate_micros=int(estimate * 1_000_000),
    )  # fmt: skip


async def _refuse(client: StarletteClient, error: GatewayError, request_id: str) -> None:
    body = error.body(request_id)
    if error.retry_after is not None:
        body["error"]["retry_after"] = error.headers().get("Retry-After")
    await client.send_json({"type": "error", **body})
    await client.close(4000 + error.status, error.message)


async def _session(websocket: WebSocket, start: Callable[[Caller, StarletteClient], Awaitable[None]]) -> None:
    """Accept, authenticate, then run ``start``; every gateway error becomes an error event and a 4xxx close."""
    token, subprotocol = credentials_of(websocket)
    await websocket.accept(subprotocol=subprotocol)
    client = StarletteClient(websocket)
    request_id = request_id_of(websocket.scope)
    try:
        found = await _authenticate(websocket, token)
        await start(found, client)
    except GatewayError as exc:
        await _refuse(client, exc, request_id)


def _query_int(websocket: WebSocket, name: str, default: int, allowed: frozenset[int]) -> int:
    raw = websocket.query_params.get(name)
    if raw in (None, ""):
        return default
    if not raw.isdigit() or int(raw) not in allowed:
        raise InvalidRequest(f"{name} must be one of {', '.join(map(str, sorted(allowed)))}")
    return int(raw)


def _plan(found: Caller, legs: list[Leg[Any]]) -> LegPlan[Leg[Any]]:
    """The session's legs through the attempt planner: breakers, cool-downs and health bookkeeping as for HTTP. A
    cooling vendor is waited for at most one attempt timeout (a session cannot sit on a long Retry-After)."""
    gateway = found.gateway
    return LegPlan(legs, gateway.failover, request_id=found.request_id, workspace_id=found.workspace_id,
                   max_wait=gateway.settings.attempt_timeout)  # fmt: skip


def _leg_opener(gateway: Gateway, options: Any) -> Callable[[Leg[Any]], Awaitable[UpstreamWebSocket]]:
    async def open_leg(leg: Leg[Any]) -> UpstreamWebSocket:
        return await leg.route.open(_call(gateway, leg.candidate.credentials), options, gateway.runtime.open_websocket)

    return open_leg


async def _end(
    client: StarletteClient,
    found: Caller,
    failed: bool,
    charges: list[Charge],
    summary: dict[str, Any],
    last_error: ProviderError | None = None,
) -> None:
    """The session's last words: an error if every vendor failed, then ``session_end`` with the cost, then close.
    When the last vendor tried was only busy (at its session limit, or 429), the close is 1013 "try again later"."""
    busy = last_error is not None and last_error.error_class is ErrorClass.RATE_LIMITED
    if failed:
        reason = f": {last_error.provider}: {last_error.message}" if last_error is not None else ""
        await client.send_json({"type": "error", "error": {
            "type": "rate_limited" if busy else "upstream_error",
            "message": f"every vendor failed for this session{reason}"[:500], "request_id": found.request_id}})  # fmt: skip
    await client.send_json({
        "type": "session_end", **summary, "cost": sum((c.final_micros for c in charges), 0) / 1_000_000,
        "requestId": found.request_id,
    })  # fmt: skip
    await client.close((1013 if busy else 1011) if failed else 1000)


def _call(gateway: Gateway, credentials: Any) -> Call:
    return Call(
        http=gateway.runtime.http,
        credentials=credentials,
        timeout=gateway.settings.attempt_timeout,
        bindings=gateway.runtime.extras,
    )


# -- /voice/realtime ----------------------------------------------------------------------------------------------
def listen_options(websocket: WebSocket) -> tuple[ListenOptions, str | None]:
    query = websocket.query_params
    model = listen_model(query.get("model"))
    if model is None:
        raise InvalidRequest(f"model must be one of {', '.join(listen_models())}")
    encoding = (query.get("encoding") or "linear16").lower()
    if encoding != "linear16":
        raise InvalidRequest("encoding must be linear16 (16-bit little-endian PCM): replay and billing count samples")
    language = query.get("language") or None
    if language is not None and len(language) > 35:
        raise InvalidRequest("language is too long")
    options = ListenOptions(
        model=model, sample_rate=_query_int(websocket, "sample_rate", 16000, SAMPLE_RATES), language=language
    )
    return options, query.get("provider") or None


async def listen_legs(found: Caller, options: ListenOptions, pinned: str | None) -> list[Leg]:
    """Every (vendor, route) to try, in order: the requested model at each vendor (strategy order), then the other
    models in the registry's order — a vendor serving the same model keeps the session's semantics (turn events)
    intact. The attempt planner decides at each switch which of these is admissible then."""
    candidates = await select_candidates(
        found.gateway, found.workspace_id, Capability.STT, pinned=pinned,
        can_serve=lambda c: bool(listen_routes(c.id)),
        estimate=lambda c: listen_routes(c.id)[0].cost(60), asked="realtime transcription (/voice/realtime)",
    )  # fmt: skip
    order = (options.model, *(m for m in listen_models() if m != options.model))
    legs = [
        Leg(c, route) for model in order for c in candidates for route in listen_routes(c.id) if route.model == model
    ]
    # A vendor's own engine (a model no other vendor serves, like the built-in recognizer) is the last resort.
    return legs + [Leg(c, route) for c in candidates for route in listen_routes(c.id) if route.model not in order]


@router.websocket("/voice/realtime")
async def realtime(websocket: WebSocket) -> None:
    await _session(websocket, _listen)


async def _listen(found: Caller, client: StarletteClient) -> None:
    gateway = found.gateway
    options, pinned = listen_options(client.websocket)
    legs = await listen_legs(found, options, pinned)
    await _admit(found, client.websocket, legs[0].route.cost(60))
    config = StreamingConfig.from_env(gateway.runtime.env)
    markup = await gateway.markup_for(found.workspace)
    charges: list[Charge] = []
    plan = _plan(found, legs)

    def segment_done(segment: Segment) -> None:
        route = segment.leg.route
        seconds = round(segment.seconds, 3)
        charge = Charge(route.cost(seconds), markup)
        charges.append(charge)
        found.record(UsageEvent(
            charge, provider=route.provider_id, resource="stt", model=route.vendor_model,
            unit_prices=route.unit_prices(), segment=segment.index, audio_seconds=seconds,
        ))  # fmt: skip

    hooks = SessionHooks(open_leg=_leg_opener(gateway, options), segment_done=segment_done)
    result = await ListenRelay(client, plan, options, config, gateway.runtime.clock, hooks).run()
    await _end(client, found, result.failed, charges, {
        "duration": round(result.duration, 3),
        "segments": [{"provider": s.leg.provider_id, "model": s.leg.route.model, "audio_seconds": round(s.seconds, 3)}
                     for s in result.segments],
    }, plan.errors[-1] if plan.errors else None)  # fmt: skip


# -- /voice/speak-stream ------------------------------------------------------------------------------------------
async def speak_legs(found: Caller, pinned: str | None) -> list[SpeakLeg]:
    candidates = await select_candidates(
        found.gateway, found.workspace_id, Capability.TTS, pinned=pinned,
        can_serve=lambda c: bool(speak_routes(c.id)),
        estimate=lambda c: speak_routes(c.id)[0].cost(1000), asked="streaming speech (/voice/speak-stream)",
    )  # fmt: skip
    return [Leg(c, route) for c in candidates for route in speak_routes(c.id)]


@router.websocket("/voice/speak-stream")
async def speak_stream(websocket: WebSocket) -> None:
    await _session(websocket, _speak)


async def _speak(found: Caller, client: StarletteClient) -> None:
    gateway = found.gateway
    query = client.websocket.query_params
    rate = _query_int(client.websocket, "sample_rate", 24000, SAMPLE_RATES)
    options = SpeakOptions(voice=query.get("voice") or None, sample_rate=rate)
    legs = [leg for leg in await speak_legs(found, query.get("provider") or None) if leg.route.serves_rate(rate)]
    if not legs:
        raise InvalidRequest(f"no configured streaming voice produces {rate} Hz; try sample_rate=24000")
    await _admit(found, client.websocket, legs[0].route.cost(1000))
    config = StreamingConfig.from_env(gateway.runtime.env)
    markup = await gateway.markup_for(found.workspace)
    charges: list[Charge] = []
    plan = _plan(found, legs)

    def segment_done(index: int, leg: SpeakLeg, characters: int) -> None:
        route = leg.route
        model = route.model(_call(gateway, leg.candidate.credentials), options)
        charge = Charge(route.cost(characters, model), markup)
        charges.append(charge)
        found.record(UsageEvent(
            charge, provider=route.provider_id, resource="tts", model=model, unit_prices=route.unit_prices(model),
            segment=index, characters=characters,
        ))  # fmt: skip

    cache = SegmentCache(
        gateway.speech_cache, found, client.websocket.headers, voice=options.voice, sample_rate=rate,
        pinned=query.get("provider") or None,
        describe=lambda leg: (leg.route.provider_id, leg.route.model(_call(gateway, leg.candidate.credentials), options)),
    )  # fmt: skip
    relay = SpeakRelay(
        client, plan, config, open_leg=_leg_opener(gateway, options), segment_done=segment_done,
        clock=gateway.runtime.clock, cache=cache,
    )  # fmt: skip
    result = await relay.run()
    await _end(client, found, result.failed, charges, {
        "characters": result.characters,
        "segments": [{"provider": p, "characters": n} for p, n in result.segments],
    }, plan.errors[-1] if plan.errors else None)  # fmt: skip

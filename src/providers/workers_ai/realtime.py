"""Workers AI over WebSockets: Deepgram's Flux, Nova-3 and Aura-1 as hosted by Workers AI, with Deepgram's own
messages (the protocols come from ``providers.deepgram.realtime``), at Workers AI's prices (reference/providers.md
§7.2, §7.3).

Two ways in: through AI Gateway's WebSocket API, ``wss://gateway.ai.cloudflare.com/v1/{account}/{gateway}/
workers-ai?model=@cf/deepgram/flux&...`` with ``cf-aig-authorization``; or, on the edge, the ``AI`` binding's
``run(model, inputs, {"websocket": True})``, whose 101 ``Response`` carries the socket — the runtime turns that JS
socket into an ``UpstreamWebSocket`` with the ``adopt_websocket`` extra. The binding is used when there is one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from gateway.errors import ErrorClass, ProviderError
from gateway.ports import UpstreamWebSocket, WebSocketOpener
from providers.base import Call, per_million
from providers.deepgram.realtime import AURA, FLUX, FLUX_ALIASES, NOVA, NOVA_ALIASES, nova_params
from providers.realtime.routes import (
    ADOPT_WEBSOCKET,
    ListenOptions,
    ListenRoute,
    SpeakOptions,
    SpeakRoute,
    websocket_base,
)
from providers.workers_ai.api import PROVIDER_ID
from providers.workers_ai.binding import BINDING_NAME

PER_MINUTE = Decimal(60)
FLUX_PER_SECOND = Decimal("0.0077") / PER_MINUTE
NOVA3_WS_PER_SECOND = Decimal("0.0092") / PER_MINUTE
AURA1_PER_CHARACTER = per_million("15.00")
AURA1 = "@cf/deepgram/aura-1"
SPEAK_SAMPLE_RATES = frozenset({24000})  # the gateway's WebSocket doc shows aura-1 playing 24 kHz linear16 only


def _gateway_url(call: Call, params: Mapping[str, str]) -> str:
    account = call.credentials.extra.get("account_id")
    if not account:
        raise ProviderError(PROVIDER_ID, ErrorClass.AUTH, "no Cloudflare account id configured")
    gateway = call.credentials.extra.get("gateway_id") or "default"
    return f"{websocket_base(call.credentials.base_url.rstrip('/'))}/{account}/{gateway}/workers-ai?{urlencode(params)}"


def _gateway_headers(call: Call) -> dict[str, str]:
    token = call.credentials.api_key
    if not token:
        raise ProviderError(PROVIDER_ID, ErrorClass.AUTH, "no Cloudflare API token configured")
    gateway_token = call.credentials.extra.get("aig_token") or token
    return {"cf-aig-authorization": f"Bearer {gateway_token}", "Authorization": f"Bearer {token}"}


async def open_binding(call: Call, model: str, inputs: dict[str, Any]) -> UpstreamWebSocket | None:
    """On the edge: ``env.AI.run(model, inputs, {"websocket": True})``; None where there is no binding."""
    ai, adopt = call.bindings.get(BINDING_NAME), call.bindings.get(ADOPT_WEBSOCKET)
    if ai is None or adopt is None:
        return None
    try:
        response = await ai.run(model, inputs, {"websocket": True})
    except Exception as exc:  # noqa: BLE001 - a JsException on Workers
        raise ProviderError(PROVIDER_ID, ErrorClass.SERVER, f"AI binding websocket: {str(exc)[:200]}") from None
    # The binding's 101 Response carries the socket; through the Python SDK it sits on the wrapped JS object.
    socket = getattr(response, "webSocket", None) or getattr(getattr(response, "js_object", None), "webSocket", None)
    if socket is None:
        status = getattr(response, "status", "?")
        raise ProviderError(PROVIDER_ID, ErrorClass.SERVER, f"AI binding returned no websocket (HTTP {status})")
    return adopt(socket)  # type: ignore[no-any-return]


@dataclass(frozen=True)
class BindingListenRoute(ListenRoute):
    binding_inputs: Callable[[ListenOptions], dict[str, Any]] | None = None

    async def open(self, call: Call, options: ListenOptions, opener: WebSocketOpener | None) -> UpstreamWebSocket:
        if self.binding_inputs is not None:
            opened = await open_binding(call, self.vendor_model, self.binding_inputs(options))
            if opened is not None:
                return opened
        return await super().open(call, options, opener)


@dataclass(frozen=True)
class BindingSpeakRoute(SpeakRoute):
    binding_model: str | None = None

    async def open(self, call: Call, options: SpeakOptions, opener: WebSocketOpener | None) -> UpstreamWebSocket:
        if self.binding_model is not None:
            opened = await open_binding(call, self.binding_model, {})
            if opened is not None:
                return opened
        return await super().open(call, options, opener)


def _flux(call: Call, options: ListenOptions) -> tuple[str, dict[str, str]]:
    params = {"model": "@cf/deepgram/flux", "encoding": "linear16", "sample_rate": str(options.sample_rate)}
    return _gateway_url(call, params), _gateway_headers(call)


def _nova(call: Call, options: ListenOptions) -> tuple[str, dict[str, str]]:
    return _gateway_url(call, nova_params(options, "@cf/deepgram/nova-3")), _gateway_headers(call)


def _flux_binding_inputs(options: ListenOptions) -> dict[str, Any]:
    return {"encoding": "linear16", "sample_rate": str(options.sample_rate)}


def _nova_binding_inputs(options: ListenOptions) -> dict[str, Any]:
    params = nova_params(options, "@cf/deepgram/nova-3")
    params.pop("model")
    return params


def _speak(call: Call, options: SpeakOptions) -> tuple[str, dict[str, str], str]:
    return _gateway_url(call, {"model": AURA1}), _gateway_headers(call), AURA1


LISTEN_ROUTES = (
    BindingListenRoute(
        PROVIDER_ID, "flux", FLUX, "@cf/deepgram/flux", FLUX_PER_SECOND, _flux, FLUX_ALIASES, _flux_binding_inputs
    ),
    BindingListenRoute(
        PROVIDER_ID,
        "nova-3",
        NOVA,
        "@cf/deepgram/nova-3",
        NOVA3_WS_PER_SECOND,
        _nova,
        NOVA_ALIASES,
        _nova_binding_inputs,
    ),
)
SPEAK_ROUTES = (BindingSpeakRoute(PROVIDER_ID, AURA, AURA1_PER_CHARACTER, _speak, SPEAK_SAMPLE_RATES, AURA1),)

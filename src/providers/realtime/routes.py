"""Where each vendor serves each realtime protocol, how to authenticate there, and what it costs.

Deepgram direct: ``wss://api.deepgram.com/v2/listen`` (Flux), ``/v1/listen`` (Nova-3), ``/v1/speak`` (Aura), with
``Authorization: Token <key>``. Workers AI through AI Gateway: ``wss://gateway.ai.cloudflare.com/v1/{account}/
{gateway}/workers-ai?model=@cf/deepgram/flux&...`` with ``cf-aig-authorization`` (reference/providers.md §7.2); on the
edge, the ``AI`` binding's ``run(model, inputs, {"websocket": True})`` instead, whose 101 ``Response`` carries the
socket; the runtime turns that JS socket into an ``UpstreamWebSocket`` with the ``adopt_websocket`` extra.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from gateway.errors import ErrorClass, ProviderError
from gateway.ports import UpstreamWebSocket, WebSocketOpener
from gateway.streaming.upstream import open_upstream
from providers.base import Call, Unit, per_million
from providers.realtime.listen import FLUX, NOVA, ListenProtocol

ADOPT_WEBSOCKET = "adopt_websocket"  # runtime extra: JS WebSocket → UpstreamWebSocket (Workers only)
BINDING_AI = "AI"

PER_MINUTE = Decimal(60)
# Streaming list prices, USD per audio second / character (reference/providers.md §2 [UNCONF], §7.3).
DEEPGRAM_FLUX_PER_SECOND = Decimal("0.0065") / PER_MINUTE
DEEPGRAM_NOVA3_STREAMING_PER_SECOND = Decimal("0.0077") / PER_MINUTE
WORKERS_FLUX_PER_SECOND = Decimal("0.0077") / PER_MINUTE
WORKERS_NOVA3_WS_PER_SECOND = Decimal("0.0092") / PER_MINUTE
AURA1_PER_CHARACTER = per_million("15.00")
AURA2_PER_CHARACTER = per_million("30.00")

LISTEN_MODELS = ("flux", "nova-3")


@dataclass(frozen=True)
class ListenOptions:
    model: str  # flux | nova-3
    sample_rate: int = 16000
    encoding: str = "linear16"
    language: str | None = None
    channels: int = 1

    @property
    def bytes_per_second(self) -> int:
        return self.sample_rate * 2 * self.channels  # linear16

    @property
    def frame_bytes(self) -> int:
        return 2 * self.channels


@dataclass(frozen=True)
class SpeakOptions:
    voice: str | None = None
    sample_rate: int = 24000


def websocket_base(http_base: str) -> str:
    if http_base.startswith("https://"):
        return "wss://" + http_base[len("https://"):]
    if http_base.startswith("http://"):
        return "ws://" + http_base[len("http://"):]
    return http_base


def _deepgram_headers(call: Call) -> dict[str, str]:
    if not call.credentials.api_key:
        raise ProviderError("deepgram", ErrorClass.AUTH, "no Deepgram API key configured")
    return {"Authorization": f"Token {call.credentials.api_key}"}


def _gateway_url(call: Call, params: Mapping[str, str]) -> str:
    account = call.credentials.extra.get("account_id")
    if not account:
        raise ProviderError("workers_ai", ErrorClass.AUTH, "no Cloudflare account id configured")
    gateway = call.credentials.extra.get("gateway_id") or "default"
    return f"{websocket_base(call.credentials.base_url.rstrip('/'))}/{account}/{gateway}/workers-ai?{urlencode(params)}"


def _gateway_headers(call: Call) -> dict[str, str]:
    token = call.credentials.api_key
    if not token:
        raise ProviderError("workers_ai", ErrorClass.AUTH, "no Cloudflare API token configured")
    gateway_token = call.credentials.extra.get("aig_token") or token
    return {"cf-aig-authorization": f"Bearer {gateway_token}", "Authorization": f"Bearer {token}"}


async def _open_binding(call: Call, model: str, inputs: dict[str, Any]) -> UpstreamWebSocket | None:
    """On the edge: ``env.AI.run(model, inputs, {"websocket": True})``; None where there is no binding."""
    ai, adopt = call.bindings.get(BINDING_AI), call.bindings.get(ADOPT_WEBSOCKET)
    if ai is None or adopt is None:
        return None
    try:
        response = await ai.run(model, inputs, {"websocket": True})
    except Exception as exc:  # noqa: BLE001 - a JsException on Workers
        raise ProviderError("workers_ai", ErrorClass.SERVER, f"AI binding websocket: {str(exc)[:200]}") from None
    # The binding's 101 Response carries the socket; through the Python SDK it sits on the wrapped JS object.
    socket = getattr(response, "webSocket", None) or getattr(getattr(response, "js_object", None), "webSocket", None)
    if socket is None:
        status = getattr(response, "status", "?")
        raise ProviderError("workers_ai", ErrorClass.SERVER, f"AI binding returned no websocket (HTTP {status})")
    return adopt(socket)  # type: ignore[no-any-return]


@dataclass(frozen=True)
class ListenRoute:
    provider_id: str
    model: str  # flux | nova-3 (the gateway's name)
    protocol: ListenProtocol
    vendor_model: str  # the model name as the vendor spells it (billing rows show this)
    price_per_second: Decimal
    connect: Callable[[Call, ListenOptions], tuple[str, dict[str, str]]]
    binding_inputs: Callable[[ListenOptions], dict[str, Any]] | None = None

    def cost(self, seconds: float) -> Decimal:
        return self.price_per_second * Decimal(str(round(seconds, 3)))

    def unit_prices(self) -> dict[Unit, Decimal]:
        return {Unit.AUDIO_SECOND: self.price_per_second}

    async def open(self, call: Call, options: ListenOptions, opener: WebSocketOpener | None) -> UpstreamWebSocket:
        if self.binding_inputs is not None:
            opened = await _open_binding(call, self.vendor_model, self.binding_inputs(options))
            if opened is not None:
                return opened
        url, headers = self.connect(call, options)
        return await open_upstream(opener, self.provider_id, url, headers, call.timeout)


def _flux_model(options: ListenOptions) -> str:
    language = (options.language or "en").split("-")[0].lower()
    return "flux-general-en" if language == "en" else "flux-general-multi"


def _deepgram_flux(call: Call, options: ListenOptions) -> tuple[str, dict[str, str]]:
    params = {"model": _flux_model(options), "encoding": options.encoding, "sample_rate": str(options.sample_rate)}
    if options.language and _flux_model(options) == "flux-general-multi":
        params["language_hint"] = options.language
    url = f"{websocket_base(call.credentials.base_url.rstrip('/'))}/v2/listen?{urlencode(params)}"
    return url, _deepgram_headers(call)


def _nova_params(options: ListenOptions, model: str) -> dict[str, str]:
    params = {
        "model": model, "encoding": options.encoding, "sample_rate": str(options.sample_rate),
        "channels": str(options.channels), "interim_results": "true", "punctuate": "true",
        "utterance_end_ms": "1000", "vad_events": "true",
    }  # fmt: skip
    if options.language:
        params["language"] = options.language
    return params


def _deepgram_nova(call: Call, options: ListenOptions) -> tuple[str, dict[str, str]]:
    url = f"{websocket_base(call.credentials.base_url.rstrip('/'))}/v1/listen?{urlencode(_nova_params(options, 'nova-3'))}"
    return url, _deepgram_headers(call)


def _workers_flux(call: Call, options: ListenOptions) -> tuple[str, dict[str, str]]:
    params = {"model": "@cf/deepgram/flux", "encoding": "linear16", "sample_rate": str(options.sample_rate)}
    return _gateway_url(call, params), _gateway_headers(call)


def _workers_nova(call: Call, options: ListenOptions) -> tuple[str, dict[str, str]]:
    params = _nova_params(options, "@cf/deepgram/nova-3")
    return _gateway_url(call, params), _gateway_headers(call)


def _flux_binding_inputs(options: ListenOptions) -> dict[str, Any]:
    return {"encoding": "linear16", "sample_rate": str(options.sample_rate)}


def _nova_binding_inputs(options: ListenOptions) -> dict[str, Any]:
    params = _nova_params(options, "@cf/deepgram/nova-3")
    params.pop("model")
    return params


LISTEN_ROUTES: dict[str, tuple[ListenRoute, ...]] = {
    "deepgram": (
        ListenRoute("deepgram", "flux", FLUX, "flux-general-en", DEEPGRAM_FLUX_PER_SECOND, _deepgram_flux),
        ListenRoute("deepgram", "nova-3", NOVA, "nova-3", DEEPGRAM_NOVA3_STREAMING_PER_SECOND, _deepgram_nova),
    ),
    "workers_ai": (
        ListenRoute("workers_ai", "flux", FLUX, "@cf/deepgram/flux", WORKERS_FLUX_PER_SECOND, _workers_flux,
                    _flux_binding_inputs),
        ListenRoute("workers_ai", "nova-3", NOVA, "@cf/deepgram/nova-3", WORKERS_NOVA3_WS_PER_SECOND, _workers_nova,
                    _nova_binding_inputs),
    ),
}


def listen_routes(provider_id: str) -> tuple[ListenRoute, ...]:
    """The vendor's realtime speech-to-text routes: the ones above, or those its adapter declares (``listen_routes``
    on the provider class: an engine that runs in-process rather than at a URL)."""
    return LISTEN_ROUTES.get(provider_id) or _declared(provider_id, "listen_routes")


def _declared(provider_id: str, attribute: str) -> tuple[Any, ...]:
    from providers import UnknownProvider, get_provider

    try:
        return tuple(getattr(get_provider(provider_id), attribute, ()))
    except (UnknownProvider, ImportError):
        return ()


# -- streaming text-to-speech (Aura over WebSocket: Speak / Flush / Clear / Close) --------------------------------
@dataclass(frozen=True)
class SpeakRoute:
    provider_id: str
    price_per_character: Decimal
    connect: Callable[[Call, SpeakOptions], tuple[str, dict[str, str], str]]  # url, headers, vendor model
    binding_model: str | None = None

    def price(self, model: str | None = None) -> Decimal:
        """Aura-1 and Aura-2 are priced apart; a Deepgram voice named as an Aura-1 model costs Aura-1's price."""
        if model and model.startswith("aura-") and not model.startswith("aura-2"):
            return AURA1_PER_CHARACTER
        return self.price_per_character

    def cost(self, characters: int, model: str | None = None) -> Decimal:
        return self.price(model) * characters

    def unit_prices(self, model: str | None = None) -> dict[Unit, Decimal]:
        return {Unit.CHARACTER: self.price(model)}

    def model(self, call: Call, options: SpeakOptions) -> str:
        return self.connect(call, options)[2]

    async def open(self, call: Call, options: SpeakOptions, opener: WebSocketOpener | None) -> UpstreamWebSocket:
        if self.binding_model is not None:
            opened = await _open_binding(call, self.binding_model, {})
            if opened is not None:
                return opened
        url, headers, _ = self.connect(call, options)
        return await open_upstream(opener, self.provider_id, url, headers, call.timeout)


def _aura_model(voice: str | None) -> str:
    if voice and voice.startswith("aura-"):
        return voice
    return f"aura-2-{voice}-en" if voice and voice.isalpha() and voice not in ("female", "male", "neutral") \
        else "aura-2-thalia-en"


def _deepgram_speak(call: Call, options: SpeakOptions) -> tuple[str, dict[str, str], str]:
    model = _aura_model(options.voice)
    params = {"model": model, "encoding": "linear16", "sample_rate": str(options.sample_rate)}
    url = f"{websocket_base(call.credentials.base_url.rstrip('/'))}/v1/speak?{urlencode(params)}"
    return url, _deepgram_headers(call), model


def _workers_speak(call: Call, options: SpeakOptions) -> tuple[str, dict[str, str], str]:
    # The gateway's WebSocket doc shows aura-1 only, playing 24 kHz linear16 (reference/providers.md §7.2).
    return _gateway_url(call, {"model": "@cf/deepgram/aura-1"}), _gateway_headers(call), "@cf/deepgram/aura-1"


SPEAK_ROUTES: dict[str, SpeakRoute] = {
    "deepgram": SpeakRoute("deepgram", AURA2_PER_CHARACTER, _deepgram_speak),
    "workers_ai": SpeakRoute("workers_ai", AURA1_PER_CHARACTER, _workers_speak, "@cf/deepgram/aura-1"),
}

SPEAK_SAMPLE_RATES = {"deepgram": None, "workers_ai": 24000}  # None: any linear16 rate Deepgram accepts


def speak_routes(provider_id: str) -> tuple[SpeakRoute, ...]:
    route = SPEAK_ROUTES.get(provider_id)
    return (route,) if route else _declared(provider_id, "speak_routes")

"""Workers AI's realtime routes: Deepgram's protocols through AI Gateway's WebSocket API, or the ``AI`` binding's
``run(..., {"websocket": True})`` on the edge (a stand-in binding with the same call shape)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from gateway.errors import ErrorClass, ProviderError
from providers import get_provider
from providers.base import Call, Credentials
from providers.deepgram.realtime import AURA, FLUX, NOVA
from providers.realtime.routes import ADOPT_WEBSOCKET, ListenOptions, SpeakOptions
from providers.workers_ai import realtime

EXTRA = {"account_id": "acct", "gateway_id": "gw1"}


def call(bindings: dict[str, Any] | None = None, extra: dict[str, str] | None = None) -> Call:
    credentials = Credentials(api_key="cf-token", base_url="https://gateway.ai.cloudflare.com/v1",
                              extra=EXTRA if extra is None else extra)  # fmt: skip
    return Call(http=None, credentials=credentials, timeout=2.0, bindings=bindings or {})  # type: ignore[arg-type]


class Binding:
    """``env.AI`` as the runtime hands it over: ``run`` answers with a 101 Response carrying ``webSocket``."""

    def __init__(self, response: Any = None, error: Exception | None = None) -> None:
        self.response, self.error = response, error
        self.runs: list[tuple[str, dict[str, Any], dict[str, Any]]] = []

    async def run(self, model: str, inputs: dict[str, Any], options: dict[str, Any]) -> Any:
        self.runs.append((model, inputs, options))
        if self.error is not None:
            raise self.error
        return self.response


class Response:
    def __init__(self, socket: Any, status: int = 101) -> None:
        self.webSocket, self.status = socket, status


def test_the_provider_declares_its_routes_with_deepgram_protocols() -> None:
    provider = get_provider("workers_ai")
    assert [(r.model, r.protocol) for r in provider.listen_routes] == [("flux", FLUX), ("nova-3", NOVA)]
    assert [r.protocol for r in provider.speak_routes] == [AURA]


def test_ai_gateway_urls_and_auth() -> None:
    flux, nova = realtime.LISTEN_ROUTES
    url, headers = flux.connect(call(), ListenOptions(model="flux", sample_rate=16000))
    parts = urlsplit(url)
    assert (parts.scheme, parts.path) == ("wss", "/v1/acct/gw1/workers-ai")
    assert parse_qs(parts.query)["model"] == ["@cf/deepgram/flux"]
    assert headers == {"cf-aig-authorization": "Bearer cf-token", "Authorization": "Bearer cf-token"}
    url, _ = nova.connect(call(extra={"account_id": "acct"}), ListenOptions(model="nova-3"))
    assert "/acct/default/workers-ai?" in url and "model=%40cf%2Fdeepgram%2Fnova-3" in url
    (speak,) = realtime.SPEAK_ROUTES
    assert speak.model(call(), SpeakOptions()) == "@cf/deepgram/aura-1"
    assert speak.serves_rate(24000) and not speak.serves_rate(16000)
    with pytest.raises(ProviderError) as caught:
        flux.connect(call(extra={}), ListenOptions(model="flux"))
    assert caught.value.error_class == ErrorClass.AUTH


def test_prices() -> None:
    flux, nova = realtime.LISTEN_ROUTES
    minute = Decimal("0.000001")  # list prices are per minute; routes keep them per second
    assert flux.cost(60).quantize(minute) == Decimal("0.0077") and nova.cost(60).quantize(minute) == Decimal("0.0092")
    assert realtime.SPEAK_ROUTES[0].cost(1000) == Decimal("0.015")


async def test_the_binding_opens_the_socket_when_there_is_one() -> None:
    socket = object()
    ai = Binding(Response(socket))
    bindings = {"AI": ai, ADOPT_WEBSOCKET: lambda s: ("adopted", s)}
    flux, nova = realtime.LISTEN_ROUTES
    opened = await flux.open(call(bindings), ListenOptions(model="flux", sample_rate=8000), opener=None)
    assert opened == ("adopted", socket)  # type: ignore[comparison-overlap]
    assert ai.runs == [("@cf/deepgram/flux", {"encoding": "linear16", "sample_rate": "8000"}, {"websocket": True})]
    await nova.open(call(bindings), ListenOptions(model="nova-3"), opener=None)
    assert ai.runs[-1][0] == "@cf/deepgram/nova-3" and "model" not in ai.runs[-1][1]
    assert ai.runs[-1][1]["interim_results"] == "true"
    await realtime.SPEAK_ROUTES[0].open(call(bindings), SpeakOptions(), opener=None)
    assert ai.runs[-1] == ("@cf/deepgram/aura-1", {}, {"websocket": True})


async def test_binding_failures_are_vendor_failures() -> None:
    flux = realtime.LISTEN_ROUTES[0]
    for ai, text in ((Binding(error=RuntimeError("5006: overloaded")), "overloaded"),
                     (Binding(Response(None, status=500)), "HTTP 500")):  # fmt: skip
        with pytest.raises(ProviderError) as caught:
            await flux.open(call({"AI": ai, ADOPT_WEBSOCKET: lambda s: s}), ListenOptions(model="flux"), opener=None)
        assert caught.value.error_class == ErrorClass.SERVER and text in caught.value.message


async def test_without_the_binding_it_goes_through_ai_gateway() -> None:
    seen: list[tuple[str, dict[str, str]]] = []

    async def opener(url: str, headers: dict[str, str], timeout: float) -> str:
        seen.append((url, dict(headers)))
        return "socket"

    opened = await realtime.LISTEN_ROUTES[0].open(call(), ListenOptions(model="flux"), opener)  # type: ignore[arg-type]
    assert opened == "socket" and seen[0][0].startswith("wss://gateway.ai.cloudflare.com/v1/acct/gw1/workers-ai?")

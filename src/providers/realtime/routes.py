"""The realtime seam: what a vendor declares to serve ``/voice/realtime`` and ``/voice/speak-stream``.

A vendor's adapter lists its routes as ``listen_routes`` / ``speak_routes`` on its provider class (see
``providers.realtime.catalog``), the way it implements ``synthesize``/``transcribe`` for HTTP. A route knows one
model the vendor serves over a WebSocket: where (``connect``: URL and auth headers from the workspace's
credentials), in which wire protocol (``protocol``: a ``ListenProtocol`` / ``SpeakProtocol``), at what price. A route
whose socket is not at a URL (an in-process engine, a runtime binding) overrides ``open``. Nothing here names a
vendor: the vendors' routes live in their own packages (``providers.deepgram.realtime``, ``providers.workers_ai.
realtime``, ``providers.local``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from gateway.ports import UpstreamWebSocket, WebSocketOpener
from gateway.streaming.upstream import open_upstream
from providers.base import Call, Unit
from providers.realtime.listen import ListenProtocol
from providers.realtime.speak import SpeakProtocol

ADOPT_WEBSOCKET = "adopt_websocket"  # runtime extra: a runtime's own socket object → UpstreamWebSocket (Workers)


@dataclass(frozen=True)
class ListenOptions:
    model: str  # the gateway's model name (a route's ``model``)
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
        return "wss://" + http_base[len("https://") :]
    if http_base.startswith("http://"):
        return "ws://" + http_base[len("http://") :]
    return http_base


@dataclass(frozen=True)
class ListenRoute:
    provider_id: str
    model: str  # the gateway's name for the model; several vendors serving one model share it
    protocol: ListenProtocol
    vendor_model: str  # the model name as the vendor spells it (billing rows show this)
    price_per_second: Decimal
    connect: Callable[[Call, ListenOptions], tuple[str, dict[str, str]]]  # url, headers
    aliases: tuple[str, ...] = ()  # other names clients may ask for this model by

    def cost(self, seconds: float) -> Decimal:
        return self.price_per_second * Decimal(str(round(seconds, 3)))

    def unit_prices(self) -> dict[Unit, Decimal]:
        return {Unit.AUDIO_SECOND: self.price_per_second}

    async def open(self, call: Call, options: ListenOptions, opener: WebSocketOpener | None) -> UpstreamWebSocket:
        url, headers = self.connect(call, options)
        return await open_upstream(opener, self.provider_id, url, headers, call.timeout)


@dataclass(frozen=True)
class SpeakRoute:
    provider_id: str
    protocol: SpeakProtocol
    price_per_character: Decimal
    connect: Callable[[Call, SpeakOptions], tuple[str, dict[str, str], str]]  # url, headers, vendor model
    sample_rates: frozenset[int] | None = None  # the linear16 rates it can speak (None: any the client may ask)

    def price(self, model: str | None = None) -> Decimal:
        """Per character; a vendor whose models are priced apart overrides this."""
        return self.price_per_character

    def cost(self, characters: int, model: str | None = None) -> Decimal:
        return self.price(model) * characters

    def unit_prices(self, model: str | None = None) -> dict[Unit, Decimal]:
        return {Unit.CHARACTER: self.price(model)}

    def serves_rate(self, sample_rate: int) -> bool:
        return self.sample_rates is None or sample_rate in self.sample_rates

    def model(self, call: Call, options: SpeakOptions) -> str:
        return self.connect(call, options)[2]

    async def open(self, call: Call, options: SpeakOptions, opener: WebSocketOpener | None) -> UpstreamWebSocket:
        url, headers, _ = self.connect(call, options)
        return await open_upstream(opener, self.provider_id, url, headers, call.timeout)

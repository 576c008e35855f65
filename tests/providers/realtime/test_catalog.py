"""The realtime catalog: the routes each vendor declares on its provider class, and the model names clients use."""

from __future__ import annotations

from providers import PROVIDER_IDS
from providers.realtime import catalog
from providers.realtime.listen import ListenProtocol
from providers.realtime.speak import SpeakProtocol


def test_models_come_from_the_vendors_routes_in_registry_order() -> None:
    models = catalog.listen_models()
    assert models[:2] == ("flux", "nova-3")  # the first vendor in the registry that serves realtime: the default
    assert catalog.listen_model(None) == "flux"
    assert catalog.listen_model("Nova") == "nova-3" and catalog.listen_model("flux-general-en") == "flux"
    assert catalog.listen_model("whisper-streaming") is None


def test_every_declared_route_speaks_through_the_seam() -> None:
    declared = 0
    for provider_id in PROVIDER_IDS:
        for route in catalog.listen_routes(provider_id):
            assert route.provider_id == provider_id and isinstance(route.protocol, ListenProtocol)
            assert route.model in catalog.listen_models()
            declared += 1
        for speak in catalog.speak_routes(provider_id):
            assert speak.provider_id == provider_id and isinstance(speak.protocol, SpeakProtocol)
    assert declared >= 4
    assert catalog.listen_routes("openai") == () and catalog.listen_routes("no-such-vendor") == ()

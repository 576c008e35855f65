"""Which realtime routes each vendor declares, and the realtime model names clients may ask for.

Routes are attributes of the vendor's provider class (``listen_routes``, ``speak_routes``): looking them up imports
only that vendor's adapter. The model list is every declared listen model in the registry's order (the first is the
default), read once per process.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from providers.realtime.routes import ListenRoute, SpeakRoute


def _declared(provider_id: str, attribute: str) -> tuple[Any, ...]:
    from providers import UnknownProvider, get_provider

    try:
        return tuple(getattr(get_provider(provider_id), attribute, ()))
    except (UnknownProvider, ImportError):
        return ()


@cache  # routes are class-level constants; a session start asks for them once per candidate and per model
def listen_routes(provider_id: str) -> tuple[ListenRoute, ...]:
    return _declared(provider_id, "listen_routes")


@cache
def speak_routes(provider_id: str) -> tuple[SpeakRoute, ...]:
    return _declared(provider_id, "speak_routes")


@cache
def _listen_names() -> tuple[tuple[str, ...], dict[str, str]]:
    from providers import PROVIDER_IDS

    models: list[str] = []
    names: dict[str, str] = {}
    for provider_id in PROVIDER_IDS:
        for route in listen_routes(provider_id):
            if route.model not in models:
                models.append(route.model)
            for name in (route.model, *route.aliases):
                names.setdefault(name.lower(), route.model)
    return tuple(models), names


def listen_models() -> tuple[str, ...]:
    """Every realtime speech-to-text model some vendor serves, in registry order (the first is the default)."""
    return _listen_names()[0]


def listen_model(name: str | None) -> str | None:
    """The model a client's ``model=`` names (a model or one of its aliases); the default for none; None if unknown."""
    models, names = _listen_names()
    if not name:
        return models[0] if models else None
    return names.get(name.lower())

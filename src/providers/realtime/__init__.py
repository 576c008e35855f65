"""Realtime (WebSocket) speech sessions: the vendor-neutral seam between the relays and the vendors.

``events``: the neutral event schema; ``listen`` / ``speak``: what a vendor's wire protocol must provide;
``routes``: a route (where a vendor serves a model, its auth, its price); ``catalog``: the routes each vendor declares
on its provider class. The protocols and routes themselves live in the vendors' packages.
"""

from providers.realtime.catalog import listen_model, listen_models, listen_routes, speak_routes
from providers.realtime.events import Event, Transcript, Turn, Word
from providers.realtime.routes import ListenRoute, SpeakRoute

__all__ = [
    "Event",
    "ListenRoute",
    "SpeakRoute",
    "Transcript",
    "Turn",
    "Word",
    "listen_model",
    "listen_models",
    "listen_routes",
    "speak_routes",
]

"""Realtime (WebSocket) speech sessions: one protocol module per vendor wire protocol, one route table per vendor.

A *protocol* (``flux``: Deepgram ``/v2/listen``; ``nova``: Deepgram ``/v1/listen``; ``speak``: Aura ``/v1/speak``)
knows the vendor's messages: keepalive, close, and how a vendor message becomes vendor-neutral events. A *route*
(``routes.py``) knows where a vendor serves a protocol and how to authenticate: Deepgram direct, Workers AI through
AI Gateway's WebSocket API, or the Workers AI binding (``env.AI.run(..., {"websocket": True})``) on the edge.
"""

from providers.realtime.events import Event, Transcript, Turn, Word
from providers.realtime.routes import (
    ListenRoute,
    SpeakRoute,
    listen_routes,
    speak_routes,
)

__all__ = ["Event", "ListenRoute", "SpeakRoute", "Transcript", "Turn", "Word", "listen_routes", "speak_routes"]

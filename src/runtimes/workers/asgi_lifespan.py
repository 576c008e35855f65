"""Keep the SDK's per-request ASGI lifespan away from the app.

``workers.asgi.fetch`` runs a full lifespan startup *and shutdown* around every request (a Worker has no isolate
shutdown hook to wait for). The app's lifespan shutdown flushes shared, isolate-wide state (write-behind usage,
health reports); run per request it would make every buffered response wait for a D1 write and a Durable Object
round trip before it is sent. Work after the response goes through ``ctx.waitUntil`` instead (see ``tasks``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]


def without_lifespan(app: ASGIApp) -> ASGIApp:
    async def serve(
        scope: Scope, receive: Callable[[], Awaitable[Any]], send: Callable[[Any], Awaitable[None]]
    ) -> None:
        if scope["type"] == "lifespan":
            # Returning without a reply is how an ASGI app says "no lifespan support"; the SDK then skips
            # both phases and serves the request directly.
            return
        await app(scope, receive, send)

    return serve

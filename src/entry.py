"""The Worker's main module: every request goes to the same FastAPI app the local server runs.

Import time only imports (Workers snapshot the import phase; randomness or I/O at global scope is refused). The
runtime and app are built on the first request and kept for the life of the isolate.
"""

from __future__ import annotations

from typing import Any

from workers import WorkerEntrypoint, asgi

# The route modules: create_app imports them lazily; imported here, they are in the import-phase snapshot.
from gateway.api import admin, health, llm, openai_compat, realtime, stream, voice  # noqa: F401
from gateway.app import create_app
from health_do import ProviderHealthMonitor
from limits_do import WorkspaceLimiter
from providers import available_provider_ids
from runtimes.workers.asgi_lifespan import without_lifespan
from runtimes.workers.health import HEALTH_OBJECT_NAME
from runtimes.workers.runtime import BINDING_HEALTH, build_runtime
from runtimes.workers.tasks import current_ctx

__all__ = ["Default", "ProviderHealthMonitor", "WorkspaceLimiter"]

# Workers snapshot the import phase: every vendor adapter this runtime can import is imported now (the directory
# would import them on the first request), so no isolate pays for them at its first request. No I/O, no randomness.
available_provider_ids()

_app: Any | None = None


def app_for(env: Any) -> Any:
    """One runtime and one app per isolate (bindings are the same object for every request of an isolate)."""
    global _app
    if _app is None:
        _app = without_lifespan(create_app(build_runtime(env)))
    return _app


def _is_websocket_upgrade(request: Any) -> bool:
    return (request.headers.get("upgrade") or "").lower() == "websocket"


class Default(WorkerEntrypoint):
    async def fetch(self, request: Any) -> Any:
        app = app_for(self.env)
        token = current_ctx.set(self.ctx)  # background work spawned by this request is tied to its waitUntil
        try:
            if _is_websocket_upgrade(request):  # asgi.fetch only speaks HTTP; the SDK routes upgrades like this
                return await asgi.websocket(app, request, self.env)
            return await asgi.fetch(app, request, self.env, self.ctx)
        finally:
            current_ctx.reset(token)

    async def scheduled(self, controller: Any, env: Any = None, ctx: Any = None) -> None:
        """Cron safety net: run the health object's periodic work now and make sure its alarm chain is alive."""
        await getattr(self.env, BINDING_HEALTH).getByName(HEALTH_OBJECT_NAME).tick()

"""The Worker's main module: every request goes to the same FastAPI app the local server runs.

Import time only imports (Workers snapshot the import phase; randomness or I/O at global scope is refused). The
runtime and app are built on the first request and kept for the life of the isolate.
"""

from __future__ import annotations

from typing import Any

from runtimes.workers import import_phase  # isort: skip  # first: it begins the import phase (ended below)
from workers import WorkerEntrypoint
from workers import asgi as _asgi  # noqa: F401 - used per request by runtimes.workers.serving; in the snapshot

# The route modules: create_app imports them lazily; imported here, they are in the import-phase snapshot.
from gateway.api import admin, calls, health, llm, openai_compat, realtime, speech_cache, stream, voice  # noqa: F401
from gateway.app import create_app
from gateway.calls.service import call_service
from health_do import ProviderHealthMonitor
from limits_do import WorkspaceLimiter
from providers import available_provider_ids
from providers.realtime.catalog import listen_models
from runtimes.workers.asgi_lifespan import without_lifespan
from runtimes.workers.health import HEALTH_OBJECT_NAME
from runtimes.workers.runtime import BINDING_HEALTH, build_runtime
from runtimes.workers.serving import serve_http, serve_websocket
from runtimes.workers.tasks import current_ctx

__all__ = ["Default", "ProviderHealthMonitor", "WorkspaceLimiter"]

# Workers snapshot the import phase: every vendor adapter this runtime can import is imported now (the directory
# would import them on the first request), and their realtime protocols with the model catalog (the first
# /voice/realtime or /voice/speak-stream would), so no isolate pays for them at its first request. No I/O, no
# randomness.
available_provider_ids()
listen_models()
import_phase.end()

_app: Any | None = None
_gateway: Any | None = None  # the app's services, for the cron's call reconciliation


def app_for(env: Any) -> Any:
    """One runtime and one app per isolate (bindings are the same object for every request of an isolate)."""
    global _app, _gateway
    if _app is None:
        fastapi_app = create_app(build_runtime(env))
        _gateway = fastapi_app.state.gateway
        _app = without_lifespan(fastapi_app)
    return _app


def _is_websocket_upgrade(request: Any) -> bool:
    return (request.headers.get("upgrade") or "").lower() == "websocket"


class Default(WorkerEntrypoint):
    async def fetch(self, request: Any) -> Any:
        app = app_for(self.env)
        token = current_ctx.set(self.ctx)  # background work spawned by this request is tied to its waitUntil
        try:
            if _is_websocket_upgrade(request):  # answered here: the SDK's WebSocket path drops subprotocols
                return await serve_websocket(app, request, self.env, self.ctx)
            return await serve_http(app, request, self.env, self.ctx)
        finally:
            current_ctx.reset(token)

    async def scheduled(self, controller: Any, env: Any = None, ctx: Any = None) -> None:
        """Cron safety net: run the health object's periodic work now and make sure its alarm chain is alive; fetch
        voice-agent calls whose end webhook never came. Work the pass spawns (limiter releases, usage flushes) is
        tied to this invocation's waitUntil, as a request's is."""
        token = current_ctx.set(ctx or self.ctx)
        try:
            await getattr(self.env, BINDING_HEALTH).getByName(HEALTH_OBJECT_NAME).tick()
            app_for(self.env)
            if _gateway is not None:
                await call_service(_gateway).reconcile()
        finally:
            current_ctx.reset(token)

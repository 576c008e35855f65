"""The FastAPI application factory: the same app on both runtimes, built from a ``Runtime``."""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from gateway.api import console, docs, logs  # module level: in the Worker's import snapshot
from gateway.asgi import GatewayMiddleware
from gateway.direct_routes import direct_routes
from gateway.errors import GatewayError, describe_validation_errors
from gateway.middleware import request_id_of
from gateway.openapi import build_openapi
from gateway.ports import Runtime
from gateway.request_log import RequestLog
from gateway.services import Gateway
from gateway.settings import VERSION

_STATUS_TYPES = {
    400: "invalid_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "invalid_request",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "rate_limited",
}


def error_response(request: Request, status: int, type_: str, message: str, **extra: Any) -> JSONResponse:
    body = {"error": {"type": type_, "message": message, "request_id": request_id_of(request.scope), **extra}}
    return JSONResponse(body, status_code=status)


async def _gateway_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, GatewayError)
    response = JSONResponse(exc.body(request_id_of(request.scope)), status_code=exc.status, headers=exc.headers())
    return response


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return error_response(request, 422, "invalid_request", describe_validation_errors(exc.errors()))


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    type_ = _STATUS_TYPES.get(exc.status_code, "internal_error" if exc.status_code >= 500 else "invalid_request")
    response = error_response(request, exc.status_code, type_, str(exc.detail))
    if exc.headers:
        response.headers.update(exc.headers)
    return response


class GatewayApp(FastAPI):
    """The FastAPI app, with its exact-path routes called directly (``gateway.direct_routes``) inside the same
    gateway layer (``gateway.asgi``) every other request passes through FastAPI's stack."""

    gateway_layer: GatewayMiddleware
    direct: dict[tuple[str, str], Any]

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            route = self.direct.get((scope["method"], scope["path"]))
            if route is not None:
                scope["app"] = self
                await self.gateway_layer.handle(route, scope, receive, send)
                return
        await super().__call__(scope, receive, send)


def create_app(runtime: Runtime) -> FastAPI:
    gateway = Gateway.build(runtime)

    @asynccontextmanager
    async def lifespan(app: FastAPI):  # type: ignore[no-untyped-def]
        yield
        await gateway.close()

    app = GatewayApp(
        title="Voice AI Gateway",
        version=VERSION,
        description="One API in front of many speech and language vendors.",
        lifespan=lifespan,
        docs_url=None,  # /docs and /redoc: gateway.api.docs, from the gateway's own files (no CDN)
        redoc_url=None,
    )
    app.state.gateway = gateway
    app.add_exception_handler(GatewayError, _gateway_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)

    from gateway.api import admin, calls, health, llm, openai_compat, realtime, speech_cache, stream, voice

    # The hot routers first: each request FastAPI routes pays for matching every route ahead of its own. Safe
    # because /v1/* (with its catch-all) belongs to openai_compat alone, and health/logs/console/docs serve no /voice
    # path. (calls: voice-agent calls; its router's lifespan runs the local reconciliation pass.)
    routers = [openai_compat.router, voice.router, health.router, logs.router, console.router, docs.router,
               stream.router, realtime.router, admin.router, speech_cache.router, llm.router, calls.router]  # fmt: skip
    for router in routers:
        app.include_router(router)
    app.direct = direct_routes(app, routers)
    # Request id + error envelope, metrics, request log, durable rows: one ASGI layer (gateway.asgi)
    request_log = RequestLog(gateway)
    app.add_middleware(GatewayMiddleware, gateway=gateway, request_log=request_log)
    app.gateway_layer = GatewayMiddleware(None, gateway, request_log)
    app.openapi = lambda: build_openapi(app)  # type: ignore[method-assign]  # request bodies, errors, bearer auth
    return app

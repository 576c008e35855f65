"""Routes the app calls directly, past FastAPI's per-request machinery.

Every request through FastAPI passes Starlette's ServerErrorMiddleware, FastAPI's telemetry and body-limit wrappers,
ExceptionMiddleware, an AsyncExitStack, a linear match over every route and ``request_response`` — about a tenth of
the gateway's CPU per request on bench/overhead, for routes that use none of it. A route qualifies when FastAPI would
add nothing to it: an exact path (no path parameters), no dependencies, an endpoint that takes only the ``Request``
and returns a ``Response``. Such a route is looked up by ``(method, path)`` in one dict and called with the same
error rendering FastAPI would apply: the route class's own (``wrap_handler``: OpenAI's error shape on ``/v1``), then
the app's exception handlers. Everything else (and these routes' OpenAPI entries) is FastAPI's as before.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any, get_type_hints

from fastapi import FastAPI
from fastapi.routing import APIRoute, APIRouter
from starlette.requests import Request
from starlette.responses import Response

Scope = dict[str, Any]
ASGIApp = Callable[[Scope, Any, Any], Awaitable[None]]
Handler = Callable[[Request], Awaitable[Response]]


def direct_routes(app: FastAPI, routers: list[APIRouter]) -> dict[tuple[str, str], ASGIApp]:
    """``(method, path)`` → an ASGI app running that route's endpoint, for every route of ``routers`` (included in
    this order, with no prefix or dependencies of their own) that qualifies and that no earlier route would match."""
    table: dict[tuple[str, str], ASGIApp] = {}
    earlier: list[APIRoute] = []  # routes with path parameters, in registration order
    for route in (route for router in routers for route in router.routes):
        if not isinstance(route, APIRoute):
            continue
        if route.param_convertors:
            earlier.append(route)
        elif _qualifies(route) and not any(other.path_regex.match(route.path) for other in earlier):
            call = _route_app(app, route)
            for method in route.methods or ():
                table.setdefault((method, route.path), call)  # the first route registered wins, as in the router
    return table


def _qualifies(route: APIRoute) -> bool:
    if route.dependencies or route.dependant.dependencies:
        return False
    try:
        hints = get_type_hints(route.endpoint)
    except Exception:  # an annotation that does not resolve: leave the route to FastAPI
        return False
    parameters = list(inspect.signature(route.endpoint).parameters.values())
    returns = hints.get("return")
    return (
        len(parameters) == 1
        and hints.get(parameters[0].name) is Request
        and isinstance(returns, type)
        and issubclass(returns, Response)
        and inspect.iscoroutinefunction(route.endpoint)
    )


def _route_app(app: FastAPI, route: APIRoute) -> ASGIApp:
    endpoint: Handler = route.endpoint
    wrap = getattr(route, "wrap_handler", None)
    handler: Handler = wrap(endpoint) if wrap is not None else endpoint
    handlers = app.exception_handlers

    async def run(scope: Scope, receive: Any, send: Any) -> None:
        scope["route"] = route  # what FastAPI's router would have set (metrics and the request log read it)
        scope["endpoint"] = endpoint
        request = Request(scope, receive)
        try:
            response = await handler(request)
        except Exception as exc:
            render = next((handlers[cls] for cls in type(exc).__mro__ if cls in handlers), None)
            if render is None:
                raise
            response = await render(request, exc)  # type: ignore[misc]  # the app's handlers are all async
        await response(scope, receive, send)

    return run

"""Routes called past FastAPI's per-request layers (gateway.direct_routes): which qualify, and that a request served
that way answers exactly as FastAPI would (errors in the route's own shape, the route's metrics label)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response

from gateway.direct_routes import direct_routes
from tests.conftest import GatewayHarness


def _routers() -> tuple[FastAPI, list[APIRouter]]:
    first, second = APIRouter(), APIRouter()

    @first.get("/items/{name}")
    async def by_name(name: str) -> dict[str, str]:  # a path parameter: FastAPI converts it
        return {"name": name}

    @first.post("/plain")
    async def plain(request: Request) -> Response:
        return Response(b"ok")

    @first.post("/needs")
    async def needs(request: Request, who: str = Depends(lambda: "x")) -> Response:  # a dependency
        return Response(who.encode())

    @first.post("/dict")
    async def returns_dict(request: Request) -> dict[str, int]:  # FastAPI serializes it
        return {"a": 1}

    @second.get("/items/exact")  # shadowed: /items/{name} above matches it first
    async def exact(request: Request) -> JSONResponse:
        return JSONResponse({})

    @second.post("/also-plain")
    async def also_plain(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    app = FastAPI()
    for router in (first, second):
        app.include_router(router)
    return app, [first, second]


def test_only_routes_fastapi_adds_nothing_to_are_direct() -> None:
    app, routers = _routers()
    assert sorted(direct_routes(app, routers)) == [("POST", "/also-plain"), ("POST", "/plain")]


def test_the_hot_routes_are_direct(gw: GatewayHarness) -> None:
    for route in (("POST", "/v1/audio/speech"), ("POST", "/voice/synthesize"), ("POST", "/v1/chat/completions")):
        assert route in gw.app.direct


async def test_a_direct_route_answers_as_fastapi_would(gw: GatewayHarness) -> None:
    r = await gw.client.post("/v1/audio/speech", json={"model": "tts-1", "voice": "alloy"}, headers=gw.auth())
    assert r.status_code == 400 and r.json()["error"]["param"] == "input"  # OpenAI's shape, from the route class
    r = await gw.client.post("/voice/synthesize", json={}, headers=gw.auth())
    body = r.json()["error"]
    assert r.status_code == 422 and body["request_id"] == r.headers["x-request-id"]  # the app's envelope
    r = await gw.client.post("/voice/synthesize", json={"text": "hi"})
    assert r.status_code == 401 and r.json()["error"]["type"] == "unauthorized"
    metrics = (await gw.client.get("/metrics", headers=gw.admin)).text
    assert 'route="/voice/synthesize"' in metrics and 'route="/v1/audio/speech"' in metrics

"""Shared request plumbing for routers: the gateway services, the caller (authenticated, and for spending routes
admitted by the workspace's limits), JSON bodies."""

from __future__ import annotations

from typing import Any, TypeVar

from fastapi import Request
from pydantic import BaseModel, ValidationError

from gateway import json_bounds as bounded_json
from gateway.errors import (
    Forbidden,
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
    UnsupportedMediaType,
    describe_validation_errors,
)
from gateway.pipeline.context import RequestContext
from gateway.pipeline.entry import admit_spending, authenticate
from gateway.services import Gateway

M = TypeVar("M", bound=BaseModel)

MAX_JSON_BYTES = 1024 * 1024


def gateway_of(request: Request) -> Gateway:
    return request.app.state.gateway  # type: ignore[no-any-return]


Caller = RequestContext  # the pipeline's request context (gateway.pipeline.context), as routers know it


async def caller(request: Request) -> Caller:
    """A workspace key (or the admin token) — for routes either may call."""
    return await authenticate(gateway_of(request), request.headers.get("authorization"), request.scope)


async def workspace_caller(request: Request) -> Caller:
    """A workspace key whose limits admit this request (``gateway.pipeline.entry.admit_spending``)."""
    found = await authenticate(gateway_of(request), request.headers.get("authorization"), request.scope)
    return await admit_spending(found, request.scope, request.method)


async def admin_caller(request: Request) -> Caller:
    found = await caller(request)
    if not found.principal.is_admin:
        raise Forbidden("this endpoint needs the admin token")
    return found


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refusing with 413 as soon as it is known to exceed ``limit`` (never buffering more than that)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > limit:
                raise PayloadTooLarge(f"body exceeds the limit of {limit} bytes")
        except ValueError:
            raise InvalidRequest("invalid Content-Length") from None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def json_object(request: Request) -> dict[str, Any]:
    """The body as a JSON object, with clear 4xx errors for anything else (no FastAPI body magic: one error shape)."""
    content_type = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if content_type not in ("application/json", "text/json", "") and not content_type.endswith("+json"):
        raise UnsupportedMediaType("send the body as application/json")
    raw = await read_body(request, MAX_JSON_BYTES)
    if not raw.strip():
        raise InvalidRequest("the request body is empty; send a JSON object")
    try:
        data: Any = bounded_json.loads(raw)
    except bounded_json.TooDeep as exc:
        raise InvalidRequest(f"the request body is {exc}") from None
    except (ValueError, UnicodeDecodeError):
        raise InvalidRequest("the request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise InvalidRequest("the request body must be a JSON object")
    return data


async def json_body(request: Request, model: type[M]) -> M:
    """Parse a JSON object body into ``model``; validation problems are 422 naming each field."""
    data = await json_object(request)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidRequest(describe_validation_errors(exc.errors()), status=422) from None


def check_workspace_claim(found: Caller, claimed: str | None) -> None:
    """Seed clients send ``workspaceId`` in the body: accepted only when it is the key's own workspace."""
    if claimed is not None and (found.workspace is None or claimed != found.workspace.id):
        raise Forbidden("workspaceId does not match the API key's workspace")


def require_found(value: Any, what: str) -> Any:
    if value is None:
        raise NotFound(f"{what} not found")
    return value

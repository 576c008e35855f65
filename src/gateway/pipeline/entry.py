"""The pipeline's first stages, from plain request facts (the ``Authorization`` header, the ASGI scope dict):
authenticate the caller, and admit a spending request against its workspace's limits."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from gateway.auth import bearer_token
from gateway.errors import Forbidden
from gateway.limits.admission import admit
from gateway.middleware import request_id_of
from gateway.pipeline.context import RequestContext
from gateway.services import Gateway


async def authenticate(gateway: Gateway, authorization: str | None, scope: MutableMapping[str, Any]) -> RequestContext:
    """A workspace key (or the admin token) from an ``Authorization`` header."""
    return await authenticate_token(gateway, bearer_token(authorization), scope)


async def authenticate_token(gateway: Gateway, token: str | None, scope: MutableMapping[str, Any]) -> RequestContext:
    """A workspace key (or the admin token) however it came (a header, a WebSocket subprotocol); a key of a
    workspace that is not active is refused."""
    principal = await gateway.auth.authenticate(token)
    workspace = None
    if principal.workspace_id is not None:
        workspace = await gateway.workspace(principal.workspace_id)
        if workspace is None or workspace.status != "active":
            raise Forbidden("this workspace is not active")
    return RequestContext(gateway, principal, request_id_of(scope), workspace).traced(scope)


async def admit_spending(context: RequestContext, scope: MutableMapping[str, Any], method: str) -> RequestContext:
    """Routes that spend: only a workspace key, and the workspace's limits admit the request (rates per workspace
    and per key, stream slots, budget and audio quota; 429 otherwise). The admission is released when the response
    has ended, streamed bodies included. Reads (``GET``) are authenticated but not admitted."""
    if context.workspace is None:
        raise Forbidden("this endpoint needs a workspace API key, not the admin token")
    if method != "GET":
        context.ticket = await admit(
            context.gateway.limits, scope, workspace_id=context.workspace.id, key_id=context.principal.key_id,
            workspace_limits=context.workspace.limits, request_id=context.request_id,
        )  # fmt: skip
    return context

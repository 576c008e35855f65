"""Stubs for the per-workspace ``WorkspaceLimiter`` Durable Objects (binding ``WORKSPACE_LIMITS``), shaped as
``gateway.limits.wiring.LIMITER_STUBS`` expects: ``workspace_id -> stub`` with ``acquire(dict) -> dict`` and
``release(dict)``, plain Python dicts in and out."""

from __future__ import annotations

from typing import Any

from .rpc import NamedObjectRpc


class LimiterStub:
    def __init__(self, namespace: Any, workspace_id: str) -> None:
        self._rpc = NamedObjectRpc(namespace, workspace_id)

    async def acquire(self, request: dict[str, Any]) -> dict[str, Any]:
        return await self._rpc.call("acquire", request) or {}

    async def release(self, lease: dict[str, Any]) -> None:
        await self._rpc.call("release", lease)


def limiter_stubs(namespace: Any):  # type: ignore[no-untyped-def]
    """One ``LimiterStub`` per workspace, kept for the isolate's life: it holds no JS stub (those are per call)."""
    stubs: dict[str, LimiterStub] = {}

    def stub_for(workspace_id: str) -> LimiterStub:
        stub = stubs.get(workspace_id)
        if stub is None:
            stub = stubs[workspace_id] = LimiterStub(namespace, workspace_id)
        return stub

    return stub_for

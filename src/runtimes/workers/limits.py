"""Stubs for the per-workspace ``WorkspaceLimiter`` Durable Objects (binding ``WORKSPACE_LIMITS``), shaped as
``gateway.limits.wiring.LIMITER_STUBS`` expects: ``workspace_id -> stub`` with ``acquire(dict) -> dict`` and
``release(dict)``, plain Python dicts in and out."""

from __future__ import annotations

from typing import Any

from .convert import to_python


class LimiterStub:
    def __init__(self, namespace: Any, workspace_id: str) -> None:
        self._namespace = namespace
        self._workspace_id = workspace_id
        self._stub: Any | None = None

    def _get(self) -> Any:
        if self._stub is None:
            self._stub = self._namespace.getByName(self._workspace_id)
        return self._stub

    async def _call(self, method: str, payload: dict[str, Any]) -> Any:
        try:
            return to_python(await getattr(self._get(), method)(payload))
        except Exception:
            self._stub = None  # a broken stub is not reused: the next call takes a fresh one
            raise

    async def acquire(self, request: dict[str, Any]) -> dict[str, Any]:
        return await self._call("acquire", request) or {}

    async def release(self, lease: dict[str, Any]) -> None:
        await self._call("release", lease)


def limiter_stubs(namespace: Any):  # type: ignore[no-untyped-def]
    """One stub per workspace, kept for the isolate's life."""
    stubs: dict[str, LimiterStub] = {}

    def stub_for(workspace_id: str) -> LimiterStub:
        stub = stubs.get(workspace_id)
        if stub is None:
            stub = stubs[workspace_id] = LimiterStub(namespace, workspace_id)
        return stub

    return stub_for

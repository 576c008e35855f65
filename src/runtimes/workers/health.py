"""``gateway.ports.HealthService`` by Workers RPC on the global ``ProviderHealthMonitor`` Durable Object."""

from __future__ import annotations

from typing import Any

from .convert import to_python

HEALTH_OBJECT_NAME = "global"  # one object aggregates every isolate's observations


class DurableObjectHealthService:
    def __init__(self, namespace: Any, name: str = HEALTH_OBJECT_NAME) -> None:
        self._namespace = namespace
        self._name = name
        self._stub: Any | None = None

    def _get_stub(self) -> Any:
        if self._stub is None:
            self._stub = self._namespace.getByName(self._name)
        return self._stub

    async def _call(self, method: str, *args: Any) -> Any:
        try:
            return to_python(await getattr(self._get_stub(), method)(*args))
        except Exception:
            # A stub that saw an error may stay broken (e.g. the object was reset); the next call takes a new one.
            self._stub = None
            raise

    async def report(self, observations: list[dict[str, Any]]) -> None:
        await self._call("report", observations)

    async def snapshot(self) -> dict[str, dict[str, Any]]:
        return await self._call("snapshot") or {}

"""``gateway.ports.HealthService`` by Workers RPC on the global ``ProviderHealthMonitor`` Durable Object."""

from __future__ import annotations

from typing import Any

from .rpc import NamedObjectRpc

HEALTH_OBJECT_NAME = "global"  # one object aggregates every isolate's observations


class DurableObjectHealthService:
    def __init__(self, namespace: Any, name: str = HEALTH_OBJECT_NAME) -> None:
        self._rpc = NamedObjectRpc(namespace, name)

    async def report(self, observations: list[dict[str, Any]]) -> None:
        await self._rpc.call("report", observations)

    async def snapshot(self) -> dict[str, dict[str, Any]]:
        return await self._rpc.call("snapshot") or {}

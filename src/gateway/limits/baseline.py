"""Month-to-date spend per workspace, read from ``usage_records`` once per isolate and month (concurrent first
requests share one read)."""

from __future__ import annotations

import asyncio

from gateway.store.usage import UsageStore


class Baselines:
    def __init__(self, usage: UsageStore) -> None:
        self.usage = usage
        self._known: dict[tuple[str, str], tuple[int, int]] = {}
        self._loading: dict[tuple[str, str], asyncio.Future[tuple[int, int]]] = {}

    async def get(self, workspace_id: str, period: str) -> tuple[int, int]:
        """(final cost in micro-dollars, audio in milliseconds) already stored for the workspace this month."""
        key = (workspace_id, period)
        known = self._known.get(key)
        if known is not None:
            return known
        loading = self._loading.get(key)
        if loading is None:
            loading = self._loading[key] = asyncio.ensure_future(self._load(workspace_id, period))
            loading.add_done_callback(lambda _: self._loading.pop(key, None))
        return await asyncio.shield(loading)

    async def _load(self, workspace_id: str, period: str) -> tuple[int, int]:
        spent, audio_seconds = await self.usage.spent_micros(workspace_id, period)
        value = (int(spent), round(audio_seconds * 1000))
        self._known = {k: v for k, v in self._known.items() if k[1] == period}  # older months are not needed
        self._known[(workspace_id, period)] = value
        return value

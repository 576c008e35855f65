"""Candidates for one request: the vendors this workspace may use for the capability, that can do what was asked,
honouring a pinned provider, ordered by the workspace's strategy."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from decimal import Decimal

from gateway.errors import InvalidRequest, NoProvidersAvailable
from gateway.routing.directory import Candidate
from gateway.routing.strategies import order_candidates
from gateway.services import Gateway
from providers import PROVIDER_IDS
from providers.base import Capability

_sequence = itertools.count()


async def select_candidates(
    gateway: Gateway,
    workspace_id: str,
    capability: Capability,
    *,
    pinned: str | None,
    can_serve: Callable[[Candidate], bool],
    estimate: Callable[[Candidate], Decimal],
) -> list[Candidate]:
    if pinned is not None and pinned not in PROVIDER_IDS:
        raise InvalidRequest(f"unknown provider {pinned!r}; known: {', '.join(PROVIDER_IDS)}")
    candidates = await gateway.directory.candidates(workspace_id, capability)
    if pinned is not None:
        candidates = [c for c in candidates if c.id == pinned]
        if not candidates:
            raise NoProvidersAvailable(f"provider {pinned!r} is not configured for {capability.value} in this workspace")
    able = [c for c in candidates if can_serve(c)]
    if not able:
        if candidates:
            raise NoProvidersAvailable(
                f"no configured vendor supports this {capability.value} request (format, sample rate, language or length)"
            )
        raise NoProvidersAvailable(f"no vendor is configured for {capability.value}")
    stored = await gateway.strategy_for(workspace_id)
    strategy, config = stored if stored else (gateway.settings.default_strategy, {})
    return order_candidates(
        able,
        strategy,
        estimate=estimate,
        health=gateway.health.cached(),
        config=config,
        counter=next(_sequence),
    )

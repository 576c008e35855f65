"""Candidates for one request: the vendors this workspace may use for the capability, that can do what was asked,
honouring a pinned provider, ordered by the workspace's strategy. (Which of them are held back — breaker open,
cooling, globally down — is decided by the failover loop, at the moment it would try them.)"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal

from gateway.errors import InvalidRequest, NoProvidersAvailable
from gateway.routing.directory import Candidate
from gateway.routing.explain import unservable
from gateway.routing.strategies import order_candidates
from gateway.services import Gateway
from providers import PROVIDER_IDS
from providers.base import Capability

# Request sequence per (workspace, capability): round-robin and weighted spread each workspace's own requests.
_sequence: dict[tuple[str, Capability], int] = {}
MAX_SEQUENCES = 10_000


def next_sequence(workspace_id: str, capability: Capability) -> int:
    key = (workspace_id, capability)
    value = _sequence.get(key, 0)
    if key not in _sequence and len(_sequence) >= MAX_SEQUENCES:
        _sequence.clear()  # bounded memory in a long-lived isolate; a restart of the rotation is harmless
    _sequence[key] = value + 1
    return value


def require_known_provider(provider_id: str) -> str:
    if provider_id not in PROVIDER_IDS:
        raise InvalidRequest(f"unknown provider {provider_id!r}; known: {', '.join(PROVIDER_IDS)}")
    return provider_id


async def select_candidates(
    gateway: Gateway,
    workspace_id: str,
    capability: Capability,
    *,
    pinned: str | None,
    can_serve: Callable[[Candidate], bool],
    estimate: Callable[[Candidate], Decimal],
    asked: str | None = None,
    reserve: Callable[[dict[str, Decimal]], Awaitable[None]] | None = None,
) -> list[Candidate]:
    """``asked`` names the request in the 503 when nothing can serve it (``speech in mp3 at 44100 Hz``).
    ``reserve``: given each candidate's estimated cost (USD, before markup), reserve the request's budget
    (``Caller.reserve_budget``); it raises ``QuotaExceeded`` when not even the cheapest fits."""
    if pinned is not None:
        require_known_provider(pinned)
    candidates = await gateway.directory.candidates(workspace_id, capability)
    if pinned is not None:
        candidates = [c for c in candidates if c.id == pinned]
        if not candidates:
            raise NoProvidersAvailable(
                f"provider {pinned!r} is not configured for {capability.value} in this workspace"
            )
    able = [c for c in candidates if can_serve(c)]
    if not able:
        raise NoProvidersAvailable(unservable(capability, asked, candidates, can_serve))
    if reserve is not None:
        costs = {c.id: estimate(c) for c in able}
        await reserve(costs)
        estimate = lambda c: costs[c.id]  # noqa: E731  # the strategy sorts by the figures just computed
    stored = await gateway.strategy_for(workspace_id)
    strategy, config = stored if stored else (gateway.settings.default_strategy, {})
    return order_candidates(
        able,
        strategy,
        estimate=estimate,
        health=gateway.health.routing_view(),
        config=config,
        counter=next_sequence(workspace_id, capability),
        kind=capability.value,
    )

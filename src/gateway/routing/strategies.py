"""Ordering candidates. Each strategy is a pure function of the candidates and what is known about them, so tests pin
the ordering on fixed inputs. Ties always fall back to the configured priority, then the registry order.

    cost         cheapest estimate for this request first (each adapter prices it in its own unit)
    latency      lowest observed latency for this kind of request (``latencyByKind``: TTS time to first byte when
                 streamed) first; then vendors known only by their overall latency (probes); unknown ones last
    priority     ``config.order`` (a list of ids) first, then the configured priority
    weighted     the first vendor drawn by ``config.weights`` (an even, deterministic spread over requests), the rest
                 by weight
    round_robin  rotate the priority order by one per request
The built-in engine always stays last.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from gateway.routing.directory import Candidate
from providers import PROVIDER_IDS

STRATEGIES = ("cost", "latency", "priority", "weighted", "round_robin")

CostEstimate = Callable[[Candidate], Decimal]


def _tiebreak(c: Candidate) -> tuple[int, int]:
    return (c.priority, PROVIDER_IDS.index(c.id) if c.id in PROVIDER_IDS else len(PROVIDER_IDS))


def order_candidates(
    candidates: Sequence[Candidate],
    strategy: str,
    *,
    estimate: CostEstimate,
    health: Mapping[str, Mapping[str, Any]],
    config: Mapping[str, Any] | None = None,
    counter: int = 0,
    kind: str | None = None,
) -> list[Candidate]:
    """Keyed vendors ordered by ``strategy``; the built-in engine always stays last."""
    keyed = [c for c in candidates if c.source != "builtin"]
    builtin = [c for c in candidates if c.source == "builtin"]
    config = config or {}
    if strategy == "cost":
        keyed.sort(key=lambda c: (estimate(c), *_tiebreak(c)))
    elif strategy == "latency":
        keyed.sort(key=lambda c: (*_latency(health.get(c.id), kind), *_tiebreak(c)))
    elif strategy == "weighted":
        keyed = _weighted(keyed, config.get("weights") or {}, counter)
    elif strategy == "round_robin":
        keyed.sort(key=_tiebreak)
        if keyed:
            shift = counter % len(keyed)
            keyed = keyed[shift:] + keyed[:shift]
    else:  # priority
        order = config.get("order")
        if isinstance(order, list):
            rank = {provider_id: i for i, provider_id in enumerate(order)}
            keyed.sort(key=lambda c: (rank.get(c.id, len(rank)), *_tiebreak(c)))
        else:
            keyed.sort(key=_tiebreak)
    return keyed + builtin


def _latency(entry: Mapping[str, Any] | None, kind: str | None) -> tuple[int, float]:
    """(tier, ms): latency observed for this kind of request beats the overall figure (which probes feed, and a
    model listing is no synthesis), which beats nothing known."""
    entry = entry or {}
    by_kind = entry.get("latencyByKind")
    if kind and isinstance(by_kind, Mapping) and _is_number(by_kind.get(kind)):
        return (0, float(by_kind[kind]))
    if _is_number(entry.get("latencyMs")):
        return (1, float(entry["latencyMs"]))
    return (2, 0.0)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _weighted(candidates: list[Candidate], weights: Mapping[str, Any], counter: int) -> list[Candidate]:
    """Deterministic weighted choice of the first vendor (a smooth spread over successive requests), then the rest
    by weight. ``counter`` is the request sequence number in this isolate."""
    ranked = sorted(candidates, key=lambda c: (-_weight(weights, c.id), *_tiebreak(c)))
    total = sum(_weight(weights, c.id) for c in ranked)
    if total <= 0 or not ranked:
        return ranked
    slot = (counter * 0.6180339887498949) % 1.0 * total  # golden-ratio sequence: even spread, no randomness
    for index, candidate in enumerate(ranked):
        slot -= _weight(weights, candidate.id)
        if slot < 0:
            return [candidate] + ranked[:index] + ranked[index + 1 :]
    return ranked


def _weight(weights: Mapping[str, Any], provider_id: str) -> float:
    value = weights.get(provider_id, 1)
    return float(value) if isinstance(value, (int, float)) and value >= 0 else 1.0

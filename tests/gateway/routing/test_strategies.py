"""Each strategy's ordering, pinned on fixed inputs (estimates, health, weights, counters)."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import pytest

from gateway.routing.strategies import STRATEGIES, order_candidates
from tests.gateway.routing.support import candidate


def ids(candidates) -> list[str]:
    return [c.id for c in candidates]


OPENAI, DEEPGRAM, ELEVEN, GOOGLE = (candidate(p) for p in ("openai", "deepgram", "elevenlabs", "google"))
LOCAL = candidate("workers_ai", source="builtin", key=None)  # any adapter stands in for the built-in engine here


def by_cost(costs: dict[str, str]):
    return lambda c: Decimal(costs[c.id])


def test_cost_orders_by_the_estimate_for_this_request() -> None:
    ordered = order_candidates(
        [OPENAI, DEEPGRAM, ELEVEN], "cost", estimate=by_cost({"openai": "0.003", "deepgram": "0.001",
                                                              "elevenlabs": "0.002"}), health={},
    )  # fmt: skip
    assert ids(ordered) == ["deepgram", "elevenlabs", "openai"]


def test_cost_ties_fall_back_to_priority_then_registry_order() -> None:
    same = by_cost({"openai": "0.001", "deepgram": "0.001", "elevenlabs": "0.001", "google": "0.001"})
    ordered = order_candidates([GOOGLE, ELEVEN, DEEPGRAM, OPENAI], "cost", estimate=same, health={})
    assert ids(ordered) == ["openai", "deepgram", "elevenlabs", "google"]  # registry order
    ordered = order_candidates(
        [OPENAI, DEEPGRAM, candidate("elevenlabs", priority=1)], "cost", estimate=same, health={}
    )
    assert ids(ordered) == ["elevenlabs", "openai", "deepgram"]  # a lower configured priority wins the tie


def test_cost_uses_each_adapters_own_price_for_this_request() -> None:
    from providers.base import SynthesisRequest

    request = SynthesisRequest(text="x" * 1000)
    ordered = order_candidates(
        [DEEPGRAM, OPENAI], "cost", estimate=lambda c: c.provider.estimate_synthesis_cost(request), health={}
    )
    costs = [c.provider.estimate_synthesis_cost(request) for c in ordered]
    assert costs == sorted(costs) and costs[0] < costs[1]


HEALTH = {
    "openai": {"latencyMs": 90.0, "latencyByKind": {"tts": 400.0, "llm": 150.0}},
    "deepgram": {"latencyMs": 80.0, "latencyByKind": {"tts": 250.0}},
    "elevenlabs": {"latencyMs": 50.0},  # known only by its probes
    # google: nothing known
}


def test_latency_uses_the_latency_of_this_kind_of_request() -> None:
    ordered = order_candidates([OPENAI, GOOGLE, ELEVEN, DEEPGRAM], "latency", estimate=by_cost({}), health=HEALTH,
                               kind="tts")  # fmt: skip
    # tts latency known (deepgram 250 < openai 400), then probe-only (elevenlabs), then unknown (google)
    assert ids(ordered) == ["deepgram", "openai", "elevenlabs", "google"]
    ordered = order_candidates([OPENAI, GOOGLE, ELEVEN, DEEPGRAM], "latency", estimate=by_cost({}), health=HEALTH,
                               kind="llm")  # fmt: skip
    assert ids(ordered) == ["openai", "elevenlabs", "deepgram", "google"]  # then overall: 50 < 80


def test_latency_ties_and_unknowns_are_deterministic() -> None:
    health = {"openai": {"latencyByKind": {"tts": 100}}, "deepgram": {"latencyByKind": {"tts": 100}}}
    for order in ([DEEPGRAM, OPENAI, GOOGLE, ELEVEN], [ELEVEN, GOOGLE, OPENAI, DEEPGRAM]):
        ordered = order_candidates(order, "latency", estimate=by_cost({}), health=health, kind="tts")
        assert ids(ordered) == ["openai", "deepgram", "elevenlabs", "google"]


def test_priority_uses_the_configured_order_then_priority() -> None:
    ordered = order_candidates([OPENAI, DEEPGRAM, ELEVEN, GOOGLE], "priority", estimate=by_cost({}), health={},
                               config={"order": ["google", "deepgram"]})  # fmt: skip
    assert ids(ordered) == ["google", "deepgram", "openai", "elevenlabs"]
    ordered = order_candidates([OPENAI, candidate("deepgram", priority=5)], "priority", estimate=by_cost({}),
                               health={})  # fmt: skip
    assert ids(ordered) == ["deepgram", "openai"]


def test_round_robin_rotates_by_one_per_request() -> None:
    firsts = [
        ids(order_candidates([GOOGLE, OPENAI, DEEPGRAM], "round_robin", estimate=by_cost({}), health={}, counter=n))
        for n in range(4)
    ]
    assert firsts == [
        ["openai", "deepgram", "google"],
        ["deepgram", "google", "openai"],
        ["google", "openai", "deepgram"],
        ["openai", "deepgram", "google"],
    ]


def test_weighted_spreads_first_choices_by_weight_deterministically() -> None:
    weights = {"openai": 3, "deepgram": 1, "elevenlabs": 0}
    firsts = Counter(
        order_candidates(
            [OPENAI, DEEPGRAM, ELEVEN],
            "weighted",
            estimate=by_cost({}),
            health={},
            config={"weights": weights},
            counter=n,
        )[0].id  # fmt: skip
        for n in range(1000)
    )
    assert firsts["elevenlabs"] == 0  # weight 0: never first, still a fallback
    assert 0.72 <= firsts["openai"] / 1000 <= 0.78 and 0.22 <= firsts["deepgram"] / 1000 <= 0.28
    again = order_candidates([ELEVEN, DEEPGRAM, OPENAI], "weighted", estimate=by_cost({}), health={},
                             config={"weights": weights}, counter=7)  # fmt: skip
    first = order_candidates([OPENAI, DEEPGRAM, ELEVEN], "weighted", estimate=by_cost({}), health={},
                             config={"weights": weights}, counter=7)  # fmt: skip
    assert ids(again) == ids(first)  # the input order does not matter
    assert ids(first)[1:] == [c for c in ("openai", "deepgram", "elevenlabs") if c != first[0].id]  # rest by weight


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_the_builtin_engine_stays_last(strategy: str) -> None:
    ordered = order_candidates([LOCAL, OPENAI, DEEPGRAM], strategy, estimate=lambda c: Decimal(0), health={},
                               counter=1, kind="tts")  # fmt: skip
    assert ordered[-1] is LOCAL and len(ordered) == 3

"""A workspace's limits as numbers the ledger can compare: requests per minute/hour, concurrent streams, the monthly
budget in micro-dollars and the audio quota in milliseconds (integers, so nothing drifts when summed)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

DEFAULT_REQUESTS_PER_MINUTE = 60
DEFAULT_REQUESTS_PER_HOUR = 1000


def _positive_int(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    return max(0, int(value))


def usd_to_micros(value: Any) -> int:
    return int((Decimal(str(value)) * 1_000_000).to_integral_value())


@dataclass(frozen=True)
class Limits:
    per_minute: int | None = DEFAULT_REQUESTS_PER_MINUTE
    per_hour: int | None = DEFAULT_REQUESTS_PER_HOUR
    concurrent_streams: int | None = None
    budget_micros: int | None = None
    audio_ms: int | None = None

    @classmethod
    def from_workspace(cls, limits: dict[str, Any] | None) -> Limits:
        """From the workspace's ``limits`` JSON (the admin API's names); absent rates take the seed defaults."""
        limits = limits or {}
        budget = limits.get("monthlyBudgetUsd")
        minutes = limits.get("audioMinutesPerMonth")
        return cls(
            per_minute=_positive_int(limits.get("requestsPerMinute", DEFAULT_REQUESTS_PER_MINUTE)),
            per_hour=_positive_int(limits.get("requestsPerHour", DEFAULT_REQUESTS_PER_HOUR)),
            concurrent_streams=_positive_int(limits.get("concurrentStreams")),
            budget_micros=None if budget is None else usd_to_micros(budget),
            audio_ms=None if minutes is None else usd_to_micros(minutes) * 60 // 1000,  # minutes → ms, exactly
        )

"""The usage row of a cache hit: vendor ``cache``, provider cost 0, the units served, the workspace's cache price,
and the vendor cost the hit avoided (the producing vendor's dated list price for the same units) in
``saved_cost_micros``, so usage reports show what the cache saved."""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from gateway.billing import Charge
from gateway.pipeline.usage import UsageEvent
from gateway.speech_cache.store import CachedAudio
from providers.base import Unit, to_micros

CACHE_VENDOR = "cache"


@dataclass(frozen=True)
class CacheCharge(Charge):
    """No vendor was paid and no markup applies: the workspace pays its cache price, nothing else."""

    price: Decimal = Decimal(0)

    @property
    def final_cost(self) -> Decimal:
        return self.price


def avoided_cost(entry: CachedAudio) -> tuple[Decimal, str | None]:
    """What the vendor that made this audio would charge for it today, and the date of that price list."""
    from providers import get_provider

    try:
        provider = get_provider(entry.provider)
    except (LookupError, ImportError, ValueError):
        return Decimal(0), None
    units: dict[Unit, float | int] = {Unit.CHARACTER: entry.characters}
    for name, quantity in entry.usage.items():
        try:
            units[Unit(name)] = quantity
        except ValueError:
            continue
    return provider.prices.cost(entry.model, units), provider.prices.as_of


def bill_hit(found: Any, entry: CachedAudio, price_per_million_chars: Decimal, *, segment: int = 0) -> Charge:
    """Record the hit's usage row for ``found`` (the request's ``Caller``) and return its charge."""
    per_char = price_per_million_chars / 1_000_000
    charge = CacheCharge(Decimal(0), Decimal(0), price=per_char * entry.characters)
    saved, as_of = avoided_cost(entry)
    gateway = found.gateway
    row = UsageEvent(
        charge, provider=CACHE_VENDOR, resource="tts", model=entry.model, unit_prices={Unit.CHARACTER: per_char},
        segment=segment, characters=entry.characters,
    ).row(request_id=found.request_id, workspace_id=found.workspace_id, api_key_id=found.principal.key_id,
          created_at_ms=int(gateway.runtime.clock.time() * 1000))  # fmt: skip
    prices = {**row.unit_prices, "avoided_vendor": entry.provider, **({"avoided_price_as_of": as_of} if as_of else {})}
    gateway.recorder.record_usage(replace(row, unit_prices=prices, saved_cost_micros=to_micros(saved)))
    return charge

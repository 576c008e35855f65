"""Turning a vendor's reported units into money: provider cost at list price, the workspace's markup, one usage row.

Money is ``Decimal`` until it is stored as integer micro-dollars; floats never get summed.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from gateway.store.usage import UsageRow
from providers.base import Unit, to_micros


@dataclass(frozen=True)
class Charge:
    provider_cost: Decimal
    markup_percentage: Decimal

    @property
    def final_cost(self) -> Decimal:
        return self.provider_cost * (1 + self.markup_percentage / 100)

    @property
    def final_micros(self) -> int:
        return to_micros(self.final_cost)

    def header(self) -> str:
        """USD billed to the workspace as a decimal string (6 places: the storage precision)."""
        return str((Decimal(self.final_micros) / 1_000_000).quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP))

    @property
    def final_usd(self) -> float:
        return self.final_micros / 1_000_000


def usage_row(
    *,
    request_id: str,
    workspace_id: str,
    api_key_id: str | None,
    provider: str,
    resource: str,
    model: str | None,
    charge: Charge,
    unit_prices: dict[Unit, Decimal],
    created_at_ms: int,
    segment: int = 0,
    characters: int | None = None,
    audio_seconds: float | None = None,
    input_tokens: int | None = None,
    output_tokens: int | None = None,
) -> UsageRow:
    return UsageRow(
        request_id=request_id,
        workspace_id=workspace_id,
        api_key_id=api_key_id,
        provider=provider,
        resource=resource,
        model=model,
        segment=segment,
        characters=characters,
        audio_seconds=audio_seconds,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        unit_prices={unit.value: str(price) for unit, price in unit_prices.items()},
        provider_cost_micros=to_micros(charge.provider_cost),
        markup_percentage=float(charge.markup_percentage),
        final_cost_micros=charge.final_micros,
        created_at=created_at_ms,
    )

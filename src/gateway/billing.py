"""Turning a vendor's reported units into money: provider cost at list price, the workspace's markup, one usage row.

Money is ``Decimal`` until it is stored as integer micro-dollars; floats never get summed.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from providers.base import to_micros


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

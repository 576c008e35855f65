"""A usage event: what one vendor result cost and measured, as one value (it becomes a usage row and feeds the
request log's trace)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from gateway.billing import Charge
from gateway.store.usage import UsageRow
from providers.base import Unit, to_micros


@dataclass(frozen=True, slots=True)
class UsageEvent:
    charge: Charge
    provider: str
    resource: str  # "tts" | "stt" | "llm"
    model: str | None
    unit_prices: Mapping[Unit, Decimal]
    segment: int = 0
    characters: int | None = None
    audio_seconds: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    minutes: float | None = None  # a voice-agent call's length

    def row(self, *, request_id: str, workspace_id: str, api_key_id: str | None, created_at_ms: int) -> UsageRow:
        return UsageRow(
            request_id=request_id,
            workspace_id=workspace_id,
            api_key_id=api_key_id,
            provider=self.provider,
            resource=self.resource,
            model=self.model,
            segment=self.segment,
            characters=self.characters,
            audio_seconds=self.audio_seconds,
            input_tokens=self.input_tokens,
            output_tokens=self.output_tokens,
            unit_prices={unit.value: str(price) for unit, price in self.unit_prices.items()},
            provider_cost_micros=to_micros(self.charge.provider_cost),
            markup_percentage=float(self.charge.markup_percentage),
            final_cost_micros=self.charge.final_micros,
            created_at=created_at_ms,
            minutes=self.minutes,
        )

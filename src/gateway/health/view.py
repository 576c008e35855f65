"""What the health endpoints show: the global aggregate merged with this isolate's own circuit breakers.

The circuit shown is the worst of the vendor-wide circuit (global) and the local breaker(s): "open" if either says
so. A workspace sees its own credential's breaker; operators see every credential's, by key fingerprint.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gateway.routing.breaker import CLOSED, Breakers, worst


def caller_circuit(entry: Mapping[str, Any] | None, breakers: Breakers, provider_id: str, fingerprint: str) -> str:
    return worst(str((entry or {}).get("circuit", CLOSED)), breakers.state(provider_id, fingerprint))


def operator_view(snapshot: Mapping[str, Mapping[str, Any]], breakers: Breakers) -> dict[str, dict[str, Any]]:
    """Every vendor known globally or locally, with ``circuit`` merged and ``breakers`` (fingerprint → state)."""
    out: dict[str, dict[str, Any]] = {}
    names = set(snapshot) | {vendor for vendor, _ in breakers.keys()}
    for name in sorted(names):
        entry = dict(snapshot.get(name) or {"status": "healthy", "errorRate": 0.0, "latencyMs": None,
                                            "lastCheck": None})  # fmt: skip
        local = breakers.states(name)
        entry["circuit"] = worst(str(entry.get("circuit", CLOSED)), *local.values())
        entry["breakers"] = local
        out[name] = entry
    return out

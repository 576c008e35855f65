"""Vendor adapters, one module (or package) per vendor, looked up by provider id.

Modules are imported lazily: the Worker snapshots import time, and a request that only needs OpenAI should not pay
for importing seven other adapters.
"""

from __future__ import annotations

import importlib
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from providers.base import Provider

# provider id → "module:ClassName". Order here is the default priority order.
PROVIDER_CLASSES: dict[str, str] = {
    "openai": "providers.openai:OpenAIProvider",
    "deepgram": "providers.deepgram:DeepgramProvider",
    "elevenlabs": "providers.elevenlabs:ElevenLabsProvider",
    "google": "providers.google:GoogleProvider",
    "polly": "providers.polly:PollyProvider",
    "gemini": "providers.gemini:GeminiProvider",
    "anthropic": "providers.anthropic:AnthropicProvider",
    "workers_ai": "providers.workers_ai:WorkersAIProvider",
    "local": "providers.local:LocalProvider",
    "vapi": "providers.vapi:VapiProvider",
    "retell": "providers.retell:RetellProvider",
}

PROVIDER_IDS: tuple[str, ...] = tuple(PROVIDER_CLASSES)


class UnknownProvider(KeyError):
    pass


@cache
def get_provider(provider_id: str) -> Provider:
    """The (stateless, shared) adapter instance for a provider id."""
    try:
        target = PROVIDER_CLASSES[provider_id]
    except KeyError:
        raise UnknownProvider(provider_id) from None
    module_name, _, class_name = target.partition(":")
    return getattr(importlib.import_module(module_name), class_name)()


def available_provider_ids() -> list[str]:
    """Ids whose adapter module imports on this runtime (``local`` needs the optional speech engines)."""
    ids = []
    for provider_id in PROVIDER_IDS:
        try:
            get_provider(provider_id)
        except ImportError:
            continue
        ids.append(provider_id)
    return ids

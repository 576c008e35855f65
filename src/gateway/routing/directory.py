"""Which vendors a workspace may use, with which credentials.

Resolution per vendor: workspace config → platform config → environment. A workspace config can disable a vendor or
bring its own key (BYOK); a platform config can disable it, reprioritise it, or supply the platform's key (kept
encrypted in KV). The built-in vendor (``local`` on CPython, Workers AI through the ``AI`` binding on the edge)
needs no key and comes last unless the platform turns that off. Resolved lists are cached per workspace briefly so
the hot path does no I/O.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from gateway.cache import TtlCache
from gateway.ports import Clock, KeyValue
from gateway.routing.breaker import key_fingerprint
from gateway.secrets_box import SecretBox, SecretBoxError
from gateway.store.providers import ProviderConfigRow, ProviderConfigStore
from providers import PROVIDER_IDS, available_provider_ids, get_provider
from providers.base import Capability, Credentials, Provider

log = logging.getLogger("gateway.routing")

PLATFORM_KEY_PREFIX = "platform-key:"


@dataclass(frozen=True)
class Candidate:
    provider: Provider
    credentials: Credentials
    priority: int
    source: str  # "workspace" | "platform" | "env" | "builtin"
    config: Mapping[str, Any]
    # sha256 of the key, 12 hex digits: names this credential's circuit breaker (never the key itself)
    fingerprint: str = "-"
    # what this request asks of the vendor: latency is observed (and compared) per capability
    capability: Capability | None = None

    @property
    def id(self) -> str:
        return self.provider.id

    @property
    def kind(self) -> str | None:
        """What latency is observed and compared per: "tts", "stt" or "llm"."""
        return self.capability.value if self.capability is not None else None


@dataclass
class _Resolved:
    all: list[Candidate]
    by_capability: dict[Capability, list[Candidate]] = field(default_factory=dict)


class ProviderDirectory:
    def __init__(
        self,
        configs: ProviderConfigStore,
        kv: KeyValue,
        env: Mapping[str, str],
        clock: Clock,
        box: SecretBox | None,
        cache_seconds: float,
        bindings: Mapping[str, Any],
    ) -> None:
        self.configs = configs
        self.kv = kv
        self.env = env
        self.clock = clock
        self.box = box
        self.cache_seconds = cache_seconds
        self.bindings = bindings
        # Per workspace: every resolved candidate, and the per-capability lists derived from it on first use.
        self._cache: TtlCache[str, _Resolved] = TtlCache(clock, cache_seconds)
        self._settings: TtlCache[str, dict[str, str]] = TtlCache(clock, cache_seconds)
        self._available = available_provider_ids()

    def invalidate(self, workspace_id: str | None = None) -> None:
        if workspace_id is None:
            self._cache.clear()
            self._settings.clear()
        else:
            self._cache.pop(workspace_id)

    async def settings(self) -> dict[str, str]:
        return await self._settings.get_or_load("platform", self.configs.settings)

    async def candidates(self, workspace_id: str, capability: Capability) -> list[Candidate]:
        resolved = await self._all(workspace_id)
        found = resolved.by_capability.get(capability)
        if found is None:  # derived once per cache period, not per request
            found = resolved.by_capability[capability] = [
                replace(c, capability=capability) for c in resolved.all if capability in c.provider.capabilities
            ]
        return list(found)

    async def configured(self, workspace_id: str) -> list[Candidate]:
        return list((await self._all(workspace_id)).all)

    async def _all(self, workspace_id: str) -> _Resolved:
        return await self._cache.get_or_load(workspace_id, lambda: self._resolve_all(workspace_id))

    async def _resolve_all(self, workspace_id: str) -> _Resolved:
        return _Resolved(await self._resolve(workspace_id))

    async def _resolve(self, workspace_id: str) -> list[Candidate]:
        platform = await self.configs.platform_configs()
        workspace = await self.configs.workspace_configs(workspace_id)
        settings = await self.settings()
        builtin_enabled = settings.get("builtin_fallback_enabled", "true").lower() != "false"
        out: list[Candidate] = []
        for order, provider_id in enumerate(PROVIDER_IDS):
            if provider_id not in self._available:
                continue
            provider = get_provider(provider_id)
            candidate = await self._resolve_one(
                provider, platform.get(provider_id), workspace.get(provider_id), order, builtin_enabled
            )
            if candidate is not None:
                out.append(candidate)
        # Keyed vendors by priority; the built-in engine last, as the catch-all.
        out.sort(key=lambda c: (c.source == "builtin", c.priority, PROVIDER_IDS.index(c.id)))
        return out

    async def _resolve_one(
        self,
        provider: Provider,
        platform: ProviderConfigRow | None,
        workspace: ProviderConfigRow | None,
        order: int,
        builtin_enabled: bool,
    ) -> Candidate | None:
        if workspace is not None and not workspace.enabled:
            return None
        if platform is not None and not platform.enabled and not (workspace and workspace.encrypted_api_key):
            return None
        priority = platform.priority if platform is not None else 100 + order
        config: dict[str, Any] = {**(platform.config if platform else {}), **(workspace.config if workspace else {})}
        env_credentials = provider.credentials_from_env(self.env)
        builtin = provider.builtin_credentials(self.env, self.bindings)
        keyed = (env_credentials is not None and env_credentials.api_key) or (workspace and workspace.encrypted_api_key)
        if builtin is not None and not keyed:
            if not (builtin_enabled or platform is not None or workspace is not None):
                return None
            return Candidate(provider, builtin, priority, "builtin", config, key_fingerprint(None))
        key, source = None, "env"
        if workspace is not None and workspace.encrypted_api_key:
            key, source = await self._open(workspace.encrypted_api_key, provider.id, "workspace"), "workspace"
        elif workspace is None or workspace.use_platform_key:
            sealed = await self.kv.get(PLATFORM_KEY_PREFIX + provider.id)
            if sealed:
                key, source = await self._open(sealed, provider.id, "platform"), "platform"
        if key is None and source != "env":
            return None  # a stored key we cannot open: never fall back silently to another key
        if key is None:
            if env_credentials is None or (workspace is not None and not workspace.use_platform_key):
                return None
            credentials = env_credentials
        else:
            credentials = self._with_key(provider, key)
        if config.get("baseUrl"):
            credentials = replace(credentials, base_url=str(config["baseUrl"]).rstrip("/"))
        return Candidate(provider, credentials, priority, source, config, key_fingerprint(credentials.api_key))

    def _with_key(self, provider: Provider, key: str) -> Credentials:
        """Credentials as the environment would give them (base URLs, regions and other extras) with a stored key."""
        if provider.env_key:
            found = provider.credentials_from_env({**self.env, provider.env_key: key})
            if found is not None:
                return replace(found, api_key=key)
        base_url = (self.env.get(provider.env_base_url) or provider.default_base_url).rstrip("/")
        return Credentials(api_key=key, base_url=base_url)

    async def _open(self, sealed: str, provider_id: str, level: str) -> str | None:
        if self.box is None:
            log.error("a %s key for %s is stored but KEY_ENCRYPTION_KEY is not set", level, provider_id)
            return None
        try:
            return await self.box.open(sealed)
        except SecretBoxError:
            log.error("the %s key for %s cannot be decrypted with KEY_ENCRYPTION_KEY", level, provider_id)
            return None

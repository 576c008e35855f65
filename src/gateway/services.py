"""The gateway's services, wired once per process (per isolate on Workers) from a ``Runtime``."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal

from gateway.auth import Authenticator
from gateway.cache import TtlCache
from gateway.health.client import HealthClient
from gateway.limits.service import LimitsService
from gateway.limits.wiring import build_limits, key_cache_seconds
from gateway.metrics import Metrics
from gateway.ports import Runtime
from gateway.recorder import Recorder
from gateway.routing.breaker import BreakerPolicy, Breakers
from gateway.routing.directory import ProviderDirectory
from gateway.routing.failover import FailoverPolicy, FailoverRunner
from gateway.secrets_box import SecretBox
from gateway.settings import Settings
from gateway.speech_cache.wiring import build_speech_cache
from gateway.store.providers import ProviderConfigStore
from gateway.store.usage import UsageStore
from gateway.store.workspaces import Workspace, WorkspaceStore

log = logging.getLogger("gateway")

DEFAULT_MARKUP_PERCENTAGE = Decimal(20)


@dataclass
class Gateway:
    runtime: Runtime
    settings: Settings
    workspaces: WorkspaceStore
    provider_configs: ProviderConfigStore
    usage: UsageStore
    auth: Authenticator
    directory: ProviderDirectory
    recorder: Recorder
    health: HealthClient
    failover: FailoverRunner
    box: SecretBox | None
    limits: LimitsService
    metrics: Metrics

    def __post_init__(self) -> None:
        seconds = self.settings.config_cache_seconds
        self._workspace_cache: TtlCache[str, Workspace | None] = TtlCache(self.runtime.clock, seconds)
        self._strategy_cache: TtlCache[str, tuple[str, dict] | None] = TtlCache(self.runtime.clock, seconds)  # type: ignore[type-arg]
        self.speech_cache = build_speech_cache(self.runtime, self.metrics, seconds)

    async def workspace(self, workspace_id: str) -> Workspace | None:
        """The workspace, cached briefly (the hot path reads it on every request); admin writes invalidate it."""
        return await self._workspace_cache.get_or_load(workspace_id, lambda: self.workspaces.get(workspace_id))

    async def strategy_for(self, workspace_id: str) -> tuple[str, dict] | None:  # type: ignore[type-arg]
        return await self._strategy_cache.get_or_load(
            workspace_id, lambda: self.provider_configs.strategy(workspace_id)
        )

    def forget_workspace(self, workspace_id: str) -> None:
        self._strategy_cache.pop(workspace_id)
        self._workspace_cache.pop(workspace_id)
        self.directory.invalidate(workspace_id)
        self.auth.forget_workspace(workspace_id)

    @classmethod
    def build(cls, runtime: Runtime) -> Gateway:
        settings = Settings.from_env(runtime.env)
        box = (
            SecretBox(settings.key_encryption_key, runtime.cipher)
            if settings.key_encryption_key and runtime.cipher is not None
            else None
        )
        if box is None:
            log.warning("KEY_ENCRYPTION_KEY is not set: vendor keys cannot be stored through the admin API")
        workspaces = WorkspaceStore(runtime.db, runtime.clock)
        provider_configs = ProviderConfigStore(runtime.db, runtime.clock)
        # The local runtime commits a request's rows before its response ends; Workers write behind (waitUntil).
        recorder = Recorder(
            runtime.db,
            runtime.tasks,
            runtime.clock,
            hold_responses=bool(runtime.extras.get("durable_rows_before_response")),
        )
        health = HealthClient(
            runtime.health,
            runtime.tasks,
            runtime.clock,
            timers_end_with_request=bool(runtime.extras.get("timers_end_with_request")),
        )
        usage = UsageStore(runtime.db)
        limits = build_limits(runtime, usage, recorder)
        recorder.on_usage.append(limits.charge)  # real costs settle the budget reservations as rows are recorded
        key_cache = key_cache_seconds(runtime, settings.key_cache_seconds)
        metrics = Metrics()
        gateway = cls(
            runtime=runtime,
            settings=settings,
            workspaces=workspaces,
            provider_configs=provider_configs,
            usage=usage,
            auth=Authenticator(workspaces, settings.admin_token, runtime.clock, key_cache),
            directory=ProviderDirectory(
                provider_configs,
                runtime.kv,
                runtime.env,
                runtime.clock,
                box,
                settings.config_cache_seconds,
                runtime.extras,
            ),
            recorder=recorder,
            health=health,
            failover=FailoverRunner(
                health,
                recorder,
                runtime.clock,
                runtime.http,
                runtime.extras,
                Breakers(BreakerPolicy.from_env(runtime.env), runtime.clock),
                metrics,
            ),
            box=box,
            limits=limits,
            metrics=metrics,
        )
        gateway.failover.on_vendor_call.append(
            limits.vendor_called
        )  # from then on a request counts, whatever its status
        return gateway

    def policy(self) -> FailoverPolicy:
        return FailoverPolicy(attempt_timeout=self.settings.attempt_timeout, deadline=self.settings.request_deadline)

    async def markup_for(self, workspace: Workspace | None) -> Decimal:
        if workspace is not None and workspace.markup_percentage is not None:
            return Decimal(str(workspace.markup_percentage))
        raw = (await self.directory.settings()).get("pricing_markup_percentage")
        try:
            return Decimal(raw) if raw is not None else DEFAULT_MARKUP_PERCENTAGE
        except ArithmeticError:
            return DEFAULT_MARKUP_PERCENTAGE

    async def close(self) -> None:
        await self.recorder.flush()
        await self.health.flush()

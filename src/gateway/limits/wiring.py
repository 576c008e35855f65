"""Which ``LimitsService`` a runtime gets."""

from __future__ import annotations

from gateway.limits.leasing import LeasingLimits
from gateway.limits.local import InProcessLimits
from gateway.limits.service import LimitsService
from gateway.ports import Runtime
from gateway.recorder import Recorder
from gateway.store.usage import UsageStore

# ``Runtime.extras`` key: a callable ``workspace_id -> stub`` whose ``acquire(dict) -> dict`` / ``release(dict)``
# reach that workspace's ``WorkspaceLimiter`` Durable Object (binding ``WORKSPACE_LIMITS``), with plain Python
# dicts in and out. Present only on Workers; without it the limits run in-process.
LIMITER_STUBS = "limiter_stubs"

# ``Runtime.extras`` key: a callable ``(usage, recorder) -> LimitsService`` the runtime builds its own limits with (the
# local runtime's worker processes reach the supervisor's authority through it: runtimes.local.shared_limits).
LIMITS_FACTORY = "limits_factory"

# Many isolates each cache key lookups; a revocation reaches the others only when their entry expires. Unless the
# operator sets KEY_CACHE_SECONDS, a multi-isolate runtime trusts a cached lookup for at most this long.
MULTI_ISOLATE_KEY_CACHE_SECONDS = 5.0


def build_limits(runtime: Runtime, usage: UsageStore, recorder: Recorder | None = None) -> LimitsService:
    """Leases from the limiter objects on Workers (their storage keeps the windows), else in-process with the
    windows persisted through ``recorder``."""
    factory = runtime.extras.get(LIMITS_FACTORY)
    if factory is not None:
        return factory(usage, recorder)  # type: ignore[no-any-return]
    stub_for = runtime.extras.get(LIMITER_STUBS)
    if stub_for is not None:
        return LeasingLimits(stub_for, usage, runtime.clock, runtime.tasks)
    return InProcessLimits(usage, runtime.clock, recorder)


def key_cache_seconds(runtime: Runtime, configured: float) -> float:
    if runtime.extras.get(LIMITER_STUBS) is not None and "KEY_CACHE_SECONDS" not in runtime.env:
        return min(configured, MULTI_ISOLATE_KEY_CACHE_SECONDS)
    return configured

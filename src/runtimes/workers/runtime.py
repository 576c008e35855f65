"""Build the core's ``Runtime`` from a Worker's ``env`` (once per isolate)."""

from __future__ import annotations

from typing import Any

from gateway.ports import Runtime, SystemClock
from gateway.speech_cache.wiring import STORE_EXTRA
from providers.vendor_client import VendorClient

from .cipher import WebCryptoCipher
from .d1 import D1Database
from .health import DurableObjectHealthService
from .http_transport import WorkersFetchTransport
from .kv import WorkersKV
from .limits import limiter_stubs
from .speech_cache import KVSpeechCacheStore
from .tasks import WorkersBackgroundTasks
from .websocket import WorkersUpstreamWebSocket, open_websocket

# Every string variable/secret the core reads. The env is a JS object, not a mapping, so names are read one by one;
# tests/runtimes/workers/test_runtime.py fails when the core starts reading a name missing here.
ENV_NAMES = (
    "ADMIN_TOKEN",
    "KEY_ENCRYPTION_KEY",
    "ENVIRONMENT",
    "DEFAULT_STRATEGY",
    "MAX_AUDIO_BYTES",
    "ATTEMPT_TIMEOUT_SECONDS",
    "REQUEST_DEADLINE_SECONDS",
    "KEY_CACHE_SECONDS",
    "CONFIG_CACHE_SECONDS",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "DEEPGRAM_API_KEY",
    "DEEPGRAM_BASE_URL",
    "ELEVENLABS_API_KEY",
    "ELEVENLABS_BASE_URL",
    "GOOGLE_API_KEY",
    "GOOGLE_TTS_BASE_URL",
    "GOOGLE_STT_BASE_URL",
    "GEMINI_API_KEY",
    "GEMINI_BASE_URL",
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_BASE_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_REGION",
    "POLLY_BASE_URL",
    "CLOUDFLARE_ACCOUNT_ID",
    "CLOUDFLARE_API_TOKEN",
    "CLOUDFLARE_GATEWAY_ID",
    "WORKERS_AI_BASE_URL",
    "CF_AIG_TOKEN",
    "BREAKER_FAILURE_THRESHOLD",
    "BREAKER_COOLDOWN_SECONDS",
    "BREAKER_MAX_COOLDOWN_SECONDS",
    "STREAM_STALL_SECONDS",
    "REALTIME_STALL_SECONDS",
    "REALTIME_REPLAY_SECONDS",
    "REALTIME_KEEPALIVE_SECONDS",
    "REALTIME_CLOSE_TIMEOUT_SECONDS",
    "REALTIME_REPLAY_MARGIN_SECONDS",
    "SPEAK_STALL_SECONDS",
    "VAPI_API_KEY",
    "VAPI_BASE_URL",
    "VAPI_WEBHOOK_SECRET",
    "RETELL_API_KEY",
    "RETELL_BASE_URL",
    "CALL_RECONCILE_SECONDS",
    "REQUEST_LOG_STDOUT",
    "REQUEST_LOG_RETENTION_DAYS",
)

BINDING_DB = "DB"
BINDING_KV = "KV"
BINDING_HEALTH = "PROVIDER_HEALTH"
BINDING_AI = "AI"
BINDING_LIMITS = "WORKSPACE_LIMITS"
ADOPT_WEBSOCKET = "adopt_websocket"  # providers.realtime.routes.ADOPT_WEBSOCKET (not imported: keep adapters lazy)


def _binding(env: Any, name: str) -> Any | None:
    value = getattr(env, name, None)  # an unset name is `undefined` → AttributeError on the proxy
    from .convert import is_null

    return None if is_null(value) else value


def string_vars(env: Any) -> dict[str, str]:
    """The known string vars/secrets; absent ones are skipped. ``[vars]`` may hold numbers: those become text."""
    found: dict[str, str] = {}
    for name in ENV_NAMES:
        value = _binding(env, name)
        if isinstance(value, str):
            found[name] = value
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            found[name] = str(value)
    return found


def build_runtime(env: Any) -> Runtime:
    """No I/O happens here: bindings are only touched when the core first uses them."""
    # A timer dies with the request that set it; background work must run under some request's waitUntil.
    extras: dict[str, Any] = {"timers_end_with_request": True}
    ai = _binding(env, BINDING_AI)
    if ai is not None:
        extras[BINDING_AI] = ai
        # `AI.run(model, inputs, {"websocket": True})` answers with a JS WebSocket; this turns it into the core's
        # UpstreamWebSocket so realtime sessions can use the binding directly.
        extras[ADOPT_WEBSOCKET] = WorkersUpstreamWebSocket
    limits = _binding(env, BINDING_LIMITS)
    if limits is not None:
        from gateway.limits.wiring import LIMITER_STUBS

        extras[LIMITER_STUBS] = limiter_stubs(limits)
    kv = WorkersKV(getattr(env, BINDING_KV))
    clock = SystemClock()
    extras[STORE_EXTRA] = KVSpeechCacheStore(kv, clock)  # speech cache entries in the same namespace, own prefix
    return Runtime(
        db=D1Database(getattr(env, BINDING_DB)),
        kv=kv,
        health=DurableObjectHealthService(getattr(env, BINDING_HEALTH)),
        # trust_env off: there are no proxy variables to honour, and it keeps httpx from building a TLS context.
        http=VendorClient(WorkersFetchTransport()),
        tasks=WorkersBackgroundTasks(),
        env=string_vars(env),
        clock=clock,
        open_websocket=open_websocket,
        cipher=WebCryptoCipher(),
        extras=extras,
    )

"""Gateway settings, read once from the runtime's string environment (Worker vars/secrets, or env + .dev.vars)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

VERSION = "0.1.0"
DEFAULT_MAX_AUDIO_BYTES = 25 * 1024 * 1024


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {raw!r}") from None
    if value <= 0:
        raise ValueError(f"{name} must be positive, got {raw!r}")
    return value


@dataclass(frozen=True)
class Settings:
    admin_token: str | None
    key_encryption_key: str | None
    environment: str = "production"
    default_strategy: str = "cost"
    max_audio_bytes: int = DEFAULT_MAX_AUDIO_BYTES
    attempt_timeout: float = 10.0  # seconds per vendor attempt (to first byte for streams)
    request_deadline: float = 30.0  # seconds for all attempts of one request
    key_cache_seconds: float = 30.0  # how long an API-key lookup is trusted before the store is asked again
    config_cache_seconds: float = 10.0  # provider configs and settings

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        return cls(
            admin_token=env.get("ADMIN_TOKEN") or None,
            key_encryption_key=env.get("KEY_ENCRYPTION_KEY") or None,
            environment=env.get("ENVIRONMENT", "production"),
            default_strategy=env.get("DEFAULT_STRATEGY", "cost"),
            max_audio_bytes=int(_number(env, "MAX_AUDIO_BYTES", DEFAULT_MAX_AUDIO_BYTES)),
            attempt_timeout=_number(env, "ATTEMPT_TIMEOUT_SECONDS", 10.0),
            request_deadline=_number(env, "REQUEST_DEADLINE_SECONDS", 30.0),
            key_cache_seconds=_number(env, "KEY_CACHE_SECONDS", 30.0),
            config_cache_seconds=_number(env, "CONFIG_CACHE_SECONDS", 10.0),
        )

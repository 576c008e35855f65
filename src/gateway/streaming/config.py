"""Streaming knobs, read from the runtime environment (Worker vars / env / .dev.vars), with sensible defaults."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    try:
        value = float(raw) if raw not in (None, "") else default
    except ValueError:
        raise ValueError(f"{name} must be a number of seconds, got {raw!r}") from None
    if value <= 0:
        raise ValueError(f"{name} must be positive, got {raw!r}")
    return value


@dataclass(frozen=True)
class StreamingConfig:
    tts_stall: float = 5.0  # /voice/stream: no audio bytes for this long mid-body ⇒ the vendor stalled
    realtime_stall: float = 5.0  # /voice/realtime: audio sent but no vendor message for this long ⇒ stalled
    replay_seconds: float = 10.0  # most audio a failover replays to the next vendor
    replay_margin: float = 0.5  # replay starts this much before the last final transcript's end
    keepalive_seconds: float = 4.0  # client silent this long ⇒ the protocol's keepalive (vendors drop idle sockets)
    close_timeout: float = 5.0  # after CloseStream, how long to wait for the vendor's last results
    speak_stall: float = 5.0  # /voice/speak-stream: a Flush unanswered this long ⇒ the vendor stalled

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> StreamingConfig:
        return cls(
            tts_stall=_seconds(env, "STREAM_STALL_SECONDS", cls.tts_stall),
            realtime_stall=_seconds(env, "REALTIME_STALL_SECONDS", cls.realtime_stall),
            replay_seconds=_seconds(env, "REALTIME_REPLAY_SECONDS", cls.replay_seconds),
            replay_margin=_seconds(env, "REALTIME_REPLAY_MARGIN_SECONDS", cls.replay_margin),
            keepalive_seconds=_seconds(env, "REALTIME_KEEPALIVE_SECONDS", cls.keepalive_seconds),
            close_timeout=_seconds(env, "REALTIME_CLOSE_TIMEOUT_SECONDS", cls.close_timeout),
            speak_stall=_seconds(env, "SPEAK_STALL_SECONDS", cls.speak_stall),
        )

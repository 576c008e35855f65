"""Circuit breakers, one per (vendor, credential), kept in the isolate's memory: no I/O on the request path.

Keyed by the vendor and a fingerprint of the key (sha256, first 12 hex digits; never the key itself), so one
workspace's broken BYOK key opens only its own breaker. The global health snapshot covers vendor-wide outages.

    closed ──N consecutive failures, or error rate over the window──▶ open
    open ──cooldown elapsed──▶ half_open ──one trial succeeds──▶ closed
                                half_open ──trial fails──▶ open (cooldown doubled, capped)

Which outcomes count (decided here, one place):
    TIMEOUT, CONNECTION, SERVER, MALFORMED   failures: they count towards opening
    AUTH, QUOTA                              open this credential's breaker at once (every call with it will fail)
    RATE_LIMITED                             no breaker change; the credential cools until Retry-After passes
    INVALID_INPUT, UNSUPPORTED               neutral: the vendor answered, it just would not do this request
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

from gateway.errors import ErrorClass
from gateway.ports import Clock

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"

COUNTED_FAILURES = frozenset({ErrorClass.TIMEOUT, ErrorClass.CONNECTION, ErrorClass.SERVER, ErrorClass.MALFORMED})
CONFIG_FAILURES = frozenset({ErrorClass.AUTH, ErrorClass.QUOTA})


def key_fingerprint(api_key: str | None) -> str:
    """A stable, non-reversible name for a credential ("-" for keyless vendors such as the built-in engine)."""
    if not api_key:
        return "-"
    return hashlib.sha256(api_key.encode()).hexdigest()[:12]


def _positive(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    try:
        value = float(raw) if raw not in (None, "") else default
    except ValueError:
        return default
    return value if value > 0 else default


@dataclass(frozen=True)
class BreakerPolicy:
    failure_threshold: int = 3  # consecutive counted failures that open the breaker
    window_seconds: float = 30.0  # the error-rate window
    window_min_calls: int = 10  # no rate verdict on fewer calls than this
    window_error_rate: float = 0.5  # open when at least this share of the window failed
    cooldown_seconds: float = 30.0  # open → half_open
    max_cooldown_seconds: float = 300.0  # cap of the doubled cooldown after failed trials
    trial_timeout_seconds: float = 60.0  # a trial that never reported back (cancelled request) frees its slot
    rate_limit_seconds: float = 1.0  # how long a 429 without Retry-After cools the credential

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> BreakerPolicy:
        return cls(
            failure_threshold=int(_positive(env, "BREAKER_FAILURE_THRESHOLD", cls.failure_threshold)),
            cooldown_seconds=_positive(env, "BREAKER_COOLDOWN_SECONDS", cls.cooldown_seconds),
            max_cooldown_seconds=_positive(env, "BREAKER_MAX_COOLDOWN_SECONDS", cls.max_cooldown_seconds),
        )


class Admission(str, Enum):
    ALLOWED = "allowed"  # closed: go ahead
    TRIAL = "trial"  # half_open: this request carries the one trial
    DENIED = "denied"  # open, or half_open with the trial already in flight
    FORCED = "forced"  # tried anyway as a last resort (everything else failed); its outcome counts like a trial


class CircuitBreaker:
    def __init__(self, policy: BreakerPolicy, clock: Clock) -> None:
        self.policy = policy
        self.clock = clock
        self._state = CLOSED
        self._consecutive = 0
        self._window: deque[tuple[float, bool]] = deque(maxlen=200)  # (monotonic time, failed)
        self._cooldown = policy.cooldown_seconds
        self._open_until = 0.0
        self._trial_started: float | None = None
        self.opened_count = 0  # how many times it opened (observable in tests and benchmarks)

    @property
    def state(self) -> str:
        if self._state == OPEN and self.clock.monotonic() >= self._open_until:
            return HALF_OPEN
        return self._state

    @property
    def reopens_in(self) -> float:
        """Seconds until an open breaker lets a trial through (0 when not open)."""
        return max(0.0, self._open_until - self.clock.monotonic()) if self._state == OPEN else 0.0

    def admit(self) -> Admission:
        state = self.state
        if state == CLOSED:
            return Admission.ALLOWED
        if state == OPEN:
            return Admission.DENIED
        now = self.clock.monotonic()
        trial_running = (
            self._trial_started is not None and now - self._trial_started < self.policy.trial_timeout_seconds
        )
        if trial_running:
            return Admission.DENIED
        self._state = HALF_OPEN
        self._trial_started = now
        return Admission.TRIAL

    def record(self, error_class: ErrorClass | None, admission: Admission) -> None:
        """The outcome of an attempt admitted with ``admission`` (``None``: success)."""
        decisive = admission in (Admission.TRIAL, Admission.FORCED)
        if error_class is None:
            self._success(decisive)
        elif error_class in CONFIG_FAILURES:
            self._open(self.policy.cooldown_seconds if self._state == CLOSED else self._longer())
        elif error_class in COUNTED_FAILURES:
            self._failure(decisive)
        elif admission == Admission.TRIAL:
            self._trial_started = None  # neutral answer: no verdict, let the next request carry the trial

    def abandon(self, admission: Admission) -> None:
        """The attempt ended without an outcome (the request was cancelled): free the trial slot it held."""
        if admission == Admission.TRIAL:
            self._trial_started = None

    def _success(self, decisive: bool) -> None:
        now = self.clock.monotonic()
        if self._state == CLOSED:
            self._consecutive = 0
            self._window.append((now, False))
        elif decisive:
            # Only an attempt admitted as the trial (or forced) closes it: a late success from a request that started
            # before the breaker opened says little about the vendor now.
            self._close()

    def _failure(self, decisive: bool) -> None:
        now = self.clock.monotonic()
        if self._state == CLOSED:
            self._consecutive += 1
            self._window.append((now, True))
            if self._consecutive >= self.policy.failure_threshold or self._window_says_open(now):
                self._open(self.policy.cooldown_seconds)
        elif decisive:
            self._open(self._longer())

    def _window_says_open(self, now: float) -> bool:
        while self._window and now - self._window[0][0] > self.policy.window_seconds:
            self._window.popleft()
        if len(self._window) < self.policy.window_min_calls:
            return False
        failed = sum(1 for _, bad in self._window if bad)
        return failed / len(self._window) >= self.policy.window_error_rate

    def _longer(self) -> float:
        return min(self._cooldown * 2, self.policy.max_cooldown_seconds)

    def _open(self, cooldown: float) -> None:
        self._state = OPEN
        self._cooldown = cooldown
        self._open_until = self.clock.monotonic() + cooldown
        self._trial_started = None
        self.opened_count += 1

    def _close(self) -> None:
        self._state = CLOSED
        self._consecutive = 0
        self._window.clear()
        self._cooldown = self.policy.cooldown_seconds
        self._trial_started = None


BreakerKey = tuple[str, str]  # (vendor id, key fingerprint)


class Breakers:
    """Every breaker of this isolate, plus the rate-limit "cooling until" per (vendor, credential)."""

    def __init__(self, policy: BreakerPolicy, clock: Clock) -> None:
        self.policy = policy
        self.clock = clock
        self._breakers: dict[BreakerKey, CircuitBreaker] = {}
        self._cooling_until: dict[BreakerKey, float] = {}

    def get(self, vendor: str, fingerprint: str) -> CircuitBreaker:
        key = (vendor, fingerprint)
        breaker = self._breakers.get(key)
        if breaker is None:
            breaker = self._breakers[key] = CircuitBreaker(self.policy, self.clock)
        return breaker

    def state(self, vendor: str, fingerprint: str) -> str:
        breaker = self._breakers.get((vendor, fingerprint))
        return breaker.state if breaker is not None else CLOSED

    def keys(self) -> list[BreakerKey]:
        return list(self._breakers)

    def states(self, vendor: str) -> dict[str, str]:
        """Every credential's breaker state for a vendor, by fingerprint."""
        return {fp: b.state for (v, fp), b in self._breakers.items() if v == vendor}

    def cool(self, vendor: str, fingerprint: str, retry_after: float | None) -> None:
        seconds = retry_after if retry_after is not None and retry_after > 0 else self.policy.rate_limit_seconds
        key = (vendor, fingerprint)
        self._cooling_until[key] = max(self._cooling_until.get(key, 0.0), self.clock.monotonic() + seconds)

    def cooling_for(self, vendor: str, fingerprint: str) -> float:
        """Seconds this credential should still be left alone after a 429 (0: not cooling)."""
        until = self._cooling_until.get((vendor, fingerprint))
        if until is None:
            return 0.0
        remaining = until - self.clock.monotonic()
        if remaining <= 0:
            del self._cooling_until[(vendor, fingerprint)]
            return 0.0
        return remaining

    def record(
        self, vendor: str, fingerprint: str, error_class: ErrorClass | None, admission: Admission,
        retry_after: float | None = None,
    ) -> None:  # fmt: skip
        if error_class == ErrorClass.RATE_LIMITED:
            self.cool(vendor, fingerprint, retry_after)
        self.get(vendor, fingerprint).record(error_class, admission)


def worst(*states: str) -> str:
    """Merge circuit states: open beats half_open beats closed."""
    rank = {CLOSED: 0, HALF_OPEN: 1, OPEN: 2}
    return max(states, key=lambda s: rank.get(s, 0), default=CLOSED)

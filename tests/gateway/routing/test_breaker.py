"""Circuit breaker transitions, every one driven by a fake clock."""

from __future__ import annotations

import pytest

from gateway.errors import ErrorClass
from gateway.routing.breaker import (
    CLOSED,
    HALF_OPEN,
    OPEN,
    Admission,
    BreakerPolicy,
    Breakers,
    CircuitBreaker,
    key_fingerprint,
    worst,
)
from tests.gateway.routing.support import FakeClock

SERVER = ErrorClass.SERVER


def breaker(**policy: object) -> tuple[CircuitBreaker, FakeClock]:
    clock = FakeClock()
    return CircuitBreaker(BreakerPolicy(**policy), clock), clock  # type: ignore[arg-type]


def fail(b: CircuitBreaker, times: int = 1, error: ErrorClass = SERVER) -> None:
    for _ in range(times):
        b.record(error, b.admit())


def test_opens_after_three_consecutive_failures_and_a_success_resets_the_count() -> None:
    b, _ = breaker()
    fail(b, 2)
    b.record(None, b.admit())
    fail(b, 2)
    assert b.state == CLOSED
    fail(b)
    assert b.state == OPEN and b.admit() == Admission.DENIED


@pytest.mark.parametrize("error", [ErrorClass.TIMEOUT, ErrorClass.CONNECTION, ErrorClass.SERVER, ErrorClass.MALFORMED])
def test_vendor_side_failures_count(error: ErrorClass) -> None:
    b, _ = breaker()
    fail(b, 3, error)
    assert b.state == OPEN


@pytest.mark.parametrize("error", [ErrorClass.INVALID_INPUT, ErrorClass.UNSUPPORTED, ErrorClass.RATE_LIMITED])
def test_answers_that_say_nothing_about_vendor_health_do_not_count(error: ErrorClass) -> None:
    b, _ = breaker()
    fail(b, 10, error)
    assert b.state == CLOSED


@pytest.mark.parametrize("error", [ErrorClass.AUTH, ErrorClass.QUOTA])
def test_a_broken_credential_opens_at_once(error: ErrorClass) -> None:
    b, _ = breaker()
    fail(b, 1, error)
    assert b.state == OPEN


def test_opens_on_the_error_rate_over_the_window_without_three_in_a_row() -> None:
    b, clock = breaker(window_seconds=30.0, window_min_calls=10, window_error_rate=0.5)
    for _ in range(5):  # fail, ok, fail, ok ... never two failures in a row
        fail(b)
        b.record(None, b.admit())
        clock.advance(1)
    assert b.state == CLOSED  # the ninth call (a failure) saw fewer than ten calls: no verdict yet
    fail(b)  # 6 of 11 failed
    assert b.state == OPEN


def test_old_outcomes_leave_the_window() -> None:
    b, clock = breaker(window_seconds=30.0, window_min_calls=10, window_error_rate=0.5)
    for _ in range(5):
        fail(b)
        b.record(None, b.admit())
    clock.advance(31)
    fail(b)
    assert b.state == CLOSED  # the earlier ten calls are outside the window


def test_half_open_after_the_cooldown_lets_exactly_one_trial_through() -> None:
    b, clock = breaker(cooldown_seconds=30.0)
    fail(b, 3)
    clock.advance(29.9)
    assert b.state == OPEN and b.admit() == Admission.DENIED
    clock.advance(0.1)
    assert b.state == HALF_OPEN
    assert b.admit() == Admission.TRIAL
    assert [b.admit() for _ in range(5)] == [Admission.DENIED] * 5  # concurrent requests keep skipping it
    b.record(None, Admission.TRIAL)
    assert b.state == CLOSED and b.admit() == Admission.ALLOWED


def test_a_failed_trial_reopens_with_a_longer_capped_cooldown() -> None:
    b, clock = breaker(cooldown_seconds=30.0, max_cooldown_seconds=100.0)
    fail(b, 3)
    expected = [60.0, 100.0, 100.0]
    for cooldown in expected:
        clock.advance(b.reopens_in)
        trial = b.admit()
        assert trial == Admission.TRIAL
        b.record(SERVER, trial)
        assert b.state == OPEN and b.reopens_in == pytest.approx(cooldown)
    clock.advance(b.reopens_in)
    b.record(None, b.admit())
    fail(b, 3)
    assert b.reopens_in == pytest.approx(30.0)  # a close resets the cooldown


def test_a_late_success_from_before_the_open_does_not_close_it() -> None:
    b, _ = breaker()
    early = b.admit()
    fail(b, 3)
    b.record(None, early)
    assert b.state == OPEN


def test_a_forced_last_resort_attempt_closes_it_when_it_succeeds() -> None:
    b, _ = breaker()
    fail(b, 3)
    b.record(None, Admission.FORCED)
    assert b.state == CLOSED


def test_an_abandoned_or_neutral_trial_frees_the_slot() -> None:
    b, clock = breaker(cooldown_seconds=10.0, trial_timeout_seconds=60.0)
    fail(b, 3)
    clock.advance(10)
    trial = b.admit()
    b.abandon(trial)  # the client went away mid-trial
    trial = b.admit()
    assert trial == Admission.TRIAL
    b.record(ErrorClass.INVALID_INPUT, trial)  # the vendor answered, but about the input: no verdict
    assert b.state == HALF_OPEN and b.admit() == Admission.TRIAL


def test_a_trial_that_never_reports_back_times_out() -> None:
    b, clock = breaker(cooldown_seconds=10.0, trial_timeout_seconds=60.0)
    fail(b, 3)
    clock.advance(10)
    assert b.admit() == Admission.TRIAL
    clock.advance(59)
    assert b.admit() == Admission.DENIED
    clock.advance(1)
    assert b.admit() == Admission.TRIAL


def test_breakers_are_per_credential() -> None:
    clock = FakeClock()
    breakers = Breakers(BreakerPolicy(), clock)  # type: ignore[arg-type]
    byok, platform = key_fingerprint("sk-bad-byok"), key_fingerprint("sk-platform")
    breakers.record("openai", byok, ErrorClass.AUTH, Admission.ALLOWED)
    assert breakers.state("openai", byok) == OPEN
    assert breakers.state("openai", platform) == CLOSED
    assert breakers.states("openai") == {byok: OPEN}


def test_a_429_cools_the_credential_until_retry_after_passes() -> None:
    clock = FakeClock()
    breakers = Breakers(BreakerPolicy(rate_limit_seconds=1.0), clock)  # type: ignore[arg-type]
    fp = key_fingerprint("sk")
    breakers.record("openai", fp, ErrorClass.RATE_LIMITED, Admission.ALLOWED, retry_after=5.0)
    assert breakers.cooling_for("openai", fp) == pytest.approx(5.0)
    assert breakers.state("openai", fp) == CLOSED  # a 429 is not an outage
    clock.advance(4.5)
    assert breakers.cooling_for("openai", fp) == pytest.approx(0.5)
    clock.advance(0.5)
    assert breakers.cooling_for("openai", fp) == 0.0
    breakers.record("openai", fp, ErrorClass.RATE_LIMITED, Admission.ALLOWED)  # no Retry-After: the default
    assert breakers.cooling_for("openai", fp) == pytest.approx(1.0)


def test_fingerprints_never_contain_the_key() -> None:
    key = "sk-proj-abcdefghijklmnop"
    fp = key_fingerprint(key)
    assert len(fp) == 12 and all(ch in "0123456789abcdef" for ch in fp)
    assert fp == key_fingerprint(key) != key_fingerprint(key + "x")
    assert key_fingerprint(None) == key_fingerprint("") == "-"


def test_policy_from_env_and_merging_states() -> None:
    policy = BreakerPolicy.from_env({"BREAKER_FAILURE_THRESHOLD": "5", "BREAKER_COOLDOWN_SECONDS": "0.5",
                                     "BREAKER_MAX_COOLDOWN_SECONDS": "nope"})  # fmt: skip
    assert (policy.failure_threshold, policy.cooldown_seconds, policy.max_cooldown_seconds) == (5, 0.5, 300.0)
    assert worst(CLOSED, HALF_OPEN) == HALF_OPEN and worst(OPEN, CLOSED) == OPEN and worst() == CLOSED

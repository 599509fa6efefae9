"""RetryPolicy: full-jitter backoff, Retry-After, and what is (not) retried."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

from core.errors import SourceNotFound, SourceUnavailable
from tasks.retrying import RetryPolicy

log = logging.getLogger("tests.retrying")


def failing(errors: list[Exception], result: str = "ok") -> tuple[list[int], Callable[[], str]]:
    calls: list[int] = []

    def attempt() -> str:
        calls.append(1)
        if errors:
            raise errors.pop(0)
        return result

    return calls, attempt


def test_delays_grow_exponentially_up_to_the_cap() -> None:
    policy = RetryPolicy(base_delay_s=0.5, max_delay_s=8.0, draw=lambda: 1.0)
    error = SourceUnavailable("x")

    assert [policy.delay(n, error) for n in range(1, 8)] == [0.5, 1, 2, 4, 8, 8, 8]


def test_full_jitter_scales_the_ceiling_by_the_draw() -> None:
    policy = RetryPolicy(base_delay_s=1.0, draw=lambda: 0.25)

    assert policy.delay(3, SourceUnavailable("x")) == 1.0


def test_retry_after_wins_and_is_capped() -> None:
    policy = RetryPolicy(max_retry_after_s=60.0, draw=lambda: 0.0)

    assert policy.delay(1, SourceUnavailable("x", retry_after=12.5)) == 12.5
    assert policy.delay(1, SourceUnavailable("x", retry_after=3600)) == 60.0


def test_transient_errors_are_retried_until_success(caplog: pytest.LogCaptureFixture) -> None:
    slept: list[float] = []
    calls, attempt = failing([SourceUnavailable("503"), SourceUnavailable("503")])
    policy = RetryPolicy(attempts=4, base_delay_s=0.1, sleep=slept.append, draw=lambda: 1.0)

    assert policy.call(attempt, describe="fetching x", logger=log) == "ok"
    assert len(calls) == 3
    assert slept == [0.1, 0.2]
    assert [r.getMessage() for r in caplog.records] == [
        "fetching x failed (attempt 1 of 4): 503; retrying in 0.10 s",
        "fetching x failed (attempt 2 of 4): 503; retrying in 0.20 s",
    ]


def test_the_last_transient_error_is_raised_when_attempts_run_out() -> None:
    calls, attempt = failing([SourceUnavailable(f"try {n}") for n in range(1, 4)])
    policy = RetryPolicy(attempts=3, sleep=lambda _: None)

    with pytest.raises(SourceUnavailable, match="try 3"):
        policy.call(attempt, describe="x", logger=log)
    assert len(calls) == 3


def test_permanent_errors_are_not_retried() -> None:
    calls, attempt = failing([SourceNotFound("404")])
    policy = RetryPolicy(sleep=lambda _: pytest.fail("slept"))

    with pytest.raises(SourceNotFound):
        policy.call(attempt, describe="x", logger=log)
    assert len(calls) == 1


def test_at_least_one_attempt() -> None:
    with pytest.raises(ValueError, match="at least one attempt"):
        RetryPolicy(attempts=0)

"""Retry transient failures with capped exponential backoff and full jitter."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from core.errors import TransientError

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry a transient failure.

    The delay before retry ``n`` (1-based) is uniform in
    ``[0, min(max_delay_s, base_delay_s * 2**(n-1))]`` ("full jitter", which
    spreads many clients out best), unless the remote said how long to wait
    (Retry-After): then that, capped at ``max_retry_after_s``.
    """

    attempts: int = 4
    base_delay_s: float = 0.5
    max_delay_s: float = 8.0
    max_retry_after_s: float = 60.0
    # Injected so tests run with a fake clock and a fixed draw.
    sleep: Callable[[float], None] = time.sleep
    draw: Callable[[], float] = random.random

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"a retry policy needs at least one attempt, not {self.attempts}")

    def delay(self, retry: int, error: TransientError) -> float:
        """Return the seconds to wait before retry number ``retry`` (1-based)."""
        if error.retry_after is not None:
            return min(max(error.retry_after, 0.0), self.max_retry_after_s)
        ceiling = min(self.max_delay_s, self.base_delay_s * 2 ** (retry - 1))
        return ceiling * self.draw()

    def call(
        self,
        attempt: Callable[[], T],
        *,
        describe: str,
        logger: logging.Logger | logging.LoggerAdapter[Any],
    ) -> T:
        """Run ``attempt`` until it succeeds, fails permanently, or the attempts run out.

        ``describe`` names what is tried in the warnings; it must already be
        redacted. The last transient error is raised as is.
        """
        for retry in range(1, self.attempts):
            try:
                return attempt()
            except TransientError as error:
                if error.outlasted:
                    raise  # an outage already ridden out (core/outage.py)
                self.wait_before_retry(retry, error, describe=describe, logger=logger)
        return attempt()

    def wait_before_retry(
        self,
        retry: int,
        error: TransientError,
        *,
        describe: str,
        logger: logging.Logger | logging.LoggerAdapter[Any],
    ) -> None:
        """Say that attempt ``retry`` failed, and wait as long as this policy says.

        ``call`` does this between its attempts; a caller that repeats the
        attempts itself (a Prefect task's retries) does it before each repeat.
        """
        wait = self.delay(retry, error)
        logger.warning(
            "%s failed (attempt %d of %d): %s; retrying in %.2f s",
            describe,
            retry,
            self.attempts,
            error,
            wait,
        )
        self.sleep(wait)


# For a call whose caller retries it already (a flow step): try once.
ONE_ATTEMPT = RetryPolicy(attempts=1)

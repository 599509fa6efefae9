"""Riding out a short outage of a backing service: the database or the object store.

A lost connection is the textbook transient failure, and the services
assetflow leans on (PostgreSQL, S3) restart in seconds. ``ride_out`` repeats
one unit of work while it keeps failing with ``StorageUnavailable`` (which
``DatabaseUnavailable`` is), with capped exponential backoff, until a window
of time (``Settings.outage_window_s``) has passed since the first failure;
then the last error is raised marked ``outlasted`` so no step retries it
again at once. On the normal path it costs one ``try``.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from core.errors import StorageUnavailable

T = TypeVar("T")

# Seconds a lost database or S3 connection is retried before the work fails
# (``Settings.outage_window_s``): a PostgreSQL or S3 restart takes seconds.
DEFAULT_WINDOW_S = 60.0

# PostgreSQL restarts in about 5 s and SeaweedFS in a few more: waits from 0.25 s
# doubling to 2 s notice the service back about a second after its return
# (bench/bench_faults.py), one reconnect a second or two per worker thread
# meanwhile (each wait is jittered by up to half, so they do not stampede).
FIRST_WAIT_S = 0.25
LONGEST_WAIT_S = 2.0


@dataclass(frozen=True)
class OutageWindow:
    """How long to keep trying through an outage, and how to wait (injectable for tests)."""

    window_s: float
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    draw: Callable[[], float] = random.random

    def ride_out(
        self,
        attempt: Callable[[], T],
        *,
        describe: str,
        logger: logging.Logger | logging.LoggerAdapter[Any],
    ) -> T:
        """Run ``attempt``; while it raises ``StorageUnavailable``, wait and run it again.

        Raises the last such error, marked ``outlasted``, once ``window_s`` has
        passed since the first failure; any other error at once.
        """
        deadline: float | None = None
        wait = FIRST_WAIT_S
        while True:
            try:
                return attempt()
            except StorageUnavailable as error:
                if error.outlasted or self.window_s <= 0:
                    raise  # ridden out further in, or no window: the caller's to retry
                now = self.clock()
                if deadline is None:
                    deadline = now + self.window_s
                    logger.warning(
                        "%s: %s; retrying for up to %g s", describe, error, self.window_s
                    )
                if now >= deadline:
                    error.outlasted = True
                    raise
                self.sleep(min(wait * (0.5 + self.draw() / 2), deadline - now))
                wait = min(wait * 2, LONGEST_WAIT_S)

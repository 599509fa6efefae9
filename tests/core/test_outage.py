"""Riding out an outage: tried again until the window has passed, then marked outlasted."""

from __future__ import annotations

import logging

import pytest

from core.errors import DatabaseUnavailable, SourceNotFound, StorageUnavailable, is_transient
from core.outage import LONGEST_WAIT_S, OutageWindow

logger = logging.getLogger(__name__)


class _FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.waits: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


def _window(clock: _FakeClock, seconds: float) -> OutageWindow:
    return OutageWindow(seconds, clock=lambda: clock.now, sleep=clock.sleep, draw=lambda: 1.0)


def test_a_service_back_within_the_window_costs_only_the_waits() -> None:
    clock = _FakeClock()
    answers: list[BaseException | str] = [DatabaseUnavailable("down")] * 5 + ["written"]

    def attempt() -> str:
        answer = answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer

    assert _window(clock, 60).ride_out(attempt, describe="writing", logger=logger) == "written"
    assert clock.waits == [0.25, 0.5, 1.0, 2.0, LONGEST_WAIT_S]


def test_past_the_window_the_error_is_raised_marked_outlasted() -> None:
    clock = _FakeClock()

    def attempt() -> None:
        raise StorageUnavailable("S3 at http://s3:9000/media could not be reached")

    with pytest.raises(StorageUnavailable) as raised:
        _window(clock, 10).ride_out(attempt, describe="uploading", logger=logger)

    assert raised.value.outlasted and not is_transient(raised.value)
    assert clock.now == pytest.approx(10)


def test_other_errors_and_a_zero_window_are_not_ridden_out() -> None:
    clock = _FakeClock()

    def missing() -> None:
        raise SourceNotFound("no object")

    def down() -> None:
        raise StorageUnavailable("down")

    with pytest.raises(SourceNotFound):
        _window(clock, 60).ride_out(missing, describe="reading", logger=logger)
    with pytest.raises(StorageUnavailable) as raised:
        _window(clock, 0).ride_out(down, describe="reading", logger=logger)
    assert clock.waits == []
    assert is_transient(raised.value)  # the caller's own retries still apply

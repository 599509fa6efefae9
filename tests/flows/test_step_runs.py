"""Steps inline in a batch item's task run keep the retries they have as task runs."""

from __future__ import annotations

import pytest
from prefect import flow

from core.errors import SourceNotFound, SourceUnavailable
from flows.step_runs import Step, steps_inline
from tasks.retrying import RetryPolicy


def _flaky_step(errors: list[Exception], calls: list[int], slept: list[float]) -> Step[[], str]:
    """A step raising ``errors`` one per call, then succeeding; its backoff sleeps are recorded."""

    def fetch_something() -> str:
        calls.append(len(calls) + 1)
        if errors:
            raise errors.pop(0)
        return "fetched"

    policy = RetryPolicy(attempts=4, base_delay_s=2.0, sleep=slept.append, draw=lambda: 1.0)
    return Step(fetch_something, name="fetch-something", inline_retries=policy)


def _run_inline(step: Step[[], str]) -> str:
    """Call the step inline, as a batch item's task run does, inside a flow run."""

    @flow
    def inline_step() -> str:
        with steps_inline():
            return step()

    return inline_step()


def test_an_inline_step_retries_transient_errors_with_backoff(prefect_server: None) -> None:
    calls: list[int] = []
    slept: list[float] = []
    errors: list[Exception] = [SourceUnavailable("503 from the origin")] * 2
    step = _flaky_step(errors, calls, slept)

    assert _run_inline(step) == "fetched"
    assert calls == [1, 2, 3]
    assert slept == [2.0, 4.0]


def test_an_inline_step_does_not_retry_a_permanent_error(prefect_server: None) -> None:
    calls: list[int] = []
    slept: list[float] = []
    step = _flaky_step([SourceNotFound("404 Not Found")], calls, slept)

    with pytest.raises(SourceNotFound, match="404"):
        _run_inline(step)
    assert (calls, slept) == ([1], [])

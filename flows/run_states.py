"""How a flow run ends in the Prefect UI: Failed, with the sentence, when its work failed.

A flow that returns normally ends Completed, green, whatever it returns. So
the flows return ``end(result, failure)``: Completed with the result, or
Failed with the failure's sentence as the state message and the result kept
in a ``RunFailed``. The flows have no flow-level retries, and their task runs
repeat only transient errors, so a permanent failure is never tried again.
In-process callers (the CLI, tests) get the result either way with
``result_of(flow(..., return_state=True))``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Generic, TypeVar

from prefect.states import Completed, Failed, State

T = TypeVar("T")


class RunFailed(Exception, Generic[T]):
    """The work of a run failed: its sentence, and the result it came to all the same."""

    def __init__(self, message: str, result: T) -> None:
        super().__init__(message)
        self.result = result


def end(result: T, failure: str | None) -> State[Any]:
    """Return the run's final state: Completed with ``result``, or Failed saying ``failure``."""
    if failure is None:
        return Completed(data=result)
    return Failed(message=failure, data=RunFailed(failure, result))


def result_of(state: State[Any]) -> Any:
    """Return what a finished run came to, failed or not; re-raise what it did not handle."""
    value = state.result(raise_on_failure=False)
    if isinstance(value, RunFailed):
        return value.result
    if isinstance(value, BaseException):
        raise value
    return value


def all_failed(errors: Sequence[str | None], *, what: str) -> str | None:
    """Say why a run of several items failed when every one of them did; else None.

    ``errors`` holds each item's error, None for an item that did not fail.
    """
    if not errors or any(error is None for error in errors):
        return None
    if len(errors) == 1:
        return errors[0]
    return f"all {len(errors)} {what} failed; the first: {errors[0]}"

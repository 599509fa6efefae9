"""How a pipeline step runs: as a Prefect task run of its own, or inline.

In ``ingest-asset`` and ``reprocess-asset`` every step (fetch, store,
derive-image ...) is a task run, so the Prefect UI shows it and Prefect
retries it. In a batch, the item is the task run and its steps run inline in
it: a task run costs about 10 ms of the flow's CPU and as much of the
server's, more than a document's whole ingest (bench/bench_orchestration.py).
Inline steps get the same retries, decided by the same error tree, in process.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Generic, ParamSpec, TypeVar

from prefect import Task, get_run_logger, task

from flows.retry_policy import INLINE_RETRIES, task_policy
from tasks.retrying import RetryPolicy

P = ParamSpec("P")
R = TypeVar("R")

_inline: ContextVar[bool] = ContextVar("assetflow_steps_inline", default=False)


class Step(Generic[P, R]):
    """A step function, called as a Prefect task or, inside ``steps_inline()``, directly."""

    def __init__(
        self, fn: Callable[P, R], *, name: str, inline_retries: RetryPolicy = INLINE_RETRIES
    ) -> None:
        functools.update_wrapper(self, fn)
        self.name = name
        self.fn = fn
        self.task: Task[P, R] = task(name=name, **task_policy())(fn)
        self.inline_retries = inline_retries

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        """Run the step as this context asks, with the shared retries either way."""
        if not _inline.get():
            return self.task(*args, **kwargs)
        return self.inline_retries.call(
            lambda: self.fn(*args, **kwargs), describe=self.name, logger=get_run_logger()
        )


def step(name: str) -> Callable[[Callable[P, R]], Step[P, R]]:
    """Make a function a pipeline step named ``name`` (the task name in the Prefect UI)."""

    def wrap(fn: Callable[P, R]) -> Step[P, R]:
        return Step(fn, name=name)

    return wrap


@contextmanager
def steps_inline() -> Iterator[None]:
    """Run the steps called in this context inline, in the caller's task run."""
    token = _inline.set(True)
    try:
        yield
    finally:
        _inline.reset(token)

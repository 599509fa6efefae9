"""How a pipeline step runs: as a Prefect task run of its own, or inline, retried once either way.

A step is a plain function (fetch, store, derive-image ...) with one retry
policy. The caller says how the steps run (``StepMode``), and passes that
choice down with the work (``DeriveContext.mode``):

- ``TASKS`` in ``ingest-asset`` and ``reprocess-asset``: every step is a task
  run, so the Prefect UI shows it; Prefect repeats a failed try as the policy
  says (its tries, and before each repeat the policy's wait).
- ``INLINE`` in a batch, where the item is the task run: a task run costs about
  10 ms of the flow's CPU and as much of the server's, more than a document's
  whole ingest (bench/bench_orchestration.py). The policy repeats the try in
  process.

Either way a step is tried ``policy.attempts`` times, only transient errors
(core/errors.py) are tried again, and the function under the step does not
retry on its own (``fetch_source`` gets ``ONE_ATTEMPT``).
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Generic, ParamSpec, TypeVar

from prefect import Task, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import TaskRun
from prefect.runtime import flow_run, task_run
from prefect.states import State
from sqlalchemy import Engine

from core.errors import TransientError, is_transient
from core.kinds import AssetKind
from core.settings import Settings
from tasks.retrying import RetryPolicy
from tasks.video import MediaProbe

P = ParamSpec("P")
R = TypeVar("R")

# Four tries, at most 2 s, 4 s and 8 s apart (full jitter: many runs failing
# together do not retry together), or as long as the remote's Retry-After says.
STEP_RETRIES = RetryPolicy(attempts=4, base_delay_s=2.0, max_delay_s=8.0)


class StepMode(StrEnum):
    """How the steps of one ingest or reprocess run."""

    TASKS = "tasks"  # each step a Prefect task run
    INLINE = "inline"  # in the caller's task run (a batch item's)


class Step(Generic[P, R]):
    """A step: ``step.run(mode, ...)`` calls the function as a task run or inline."""

    def __init__(self, fn: Callable[P, R], *, name: str, retry: RetryPolicy = STEP_RETRIES) -> None:
        self.fn = fn
        self.name = name
        self.retry = retry
        self.task: Task[P, R] = task(
            name=name,
            # Work is not repeated because each recipe step checks its recipe key
            # in the graph; Prefect's input-hash cache would only hash settings and paths.
            cache_policy=NO_CACHE,
            retries=retry.attempts - 1,
            retry_condition_fn=_retry_if_transient,
        )(self._one_try())

    def run(self, mode: StepMode, *args: P.args, **kwargs: P.kwargs) -> R:
        """Run the step as ``mode`` says, with its retries either way."""
        if mode is StepMode.TASKS:
            return self.task(*args, **kwargs)
        return self.retry.call(
            lambda: self.fn(*args, **kwargs), describe=self.name, logger=get_run_logger()
        )

    def with_retry(self, retry: RetryPolicy) -> Step[P, R]:
        """Return this step with another retry policy."""
        return Step(self.fn, name=self.name, retry=retry)

    def _one_try(self) -> Callable[P, R]:
        """Wrap the function as one try of a task run, waiting out the policy before a repeat."""

        @functools.wraps(self.fn)
        def one_try(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return self.fn(*args, **kwargs)
            except TransientError as error:
                attempt = task_run.run_count
                if attempt < self.retry.attempts and is_transient(error):
                    self.retry.wait_before_retry(
                        attempt, error, describe=self.name, logger=get_run_logger()
                    )
                raise

        return one_try


def step(name: str) -> Callable[[Callable[P, R]], Step[P, R]]:
    """Make a function a pipeline step named ``name`` (the task name in the Prefect UI)."""

    def wrap(fn: Callable[P, R]) -> Step[P, R]:
        return Step(fn, name=name)

    return wrap


def _retry_if_transient(_task: Any, _task_run: TaskRun, state: State[Any]) -> bool:
    """Let Prefect repeat a failed try only when its error is a TransientError."""
    outcome = state.result(raise_on_failure=False)
    return isinstance(outcome, BaseException) and is_transient(outcome)


def current_flow_run_id() -> uuid.UUID | None:
    """Return the id of the Prefect flow run this code runs in, if any."""
    run_id = flow_run.get_id()
    return uuid.UUID(run_id) if run_id else None


@dataclass(frozen=True)
class DeriveContext:
    """What a recipe step gets: the asset, its local original, where to work, how steps run."""

    settings: Settings
    engine: Engine
    mode: StepMode
    asset_id: uuid.UUID
    kind: AssetKind
    original: Path
    original_sha256: str
    work_dir: Path
    # The original's ffprobe metadata, read once for the steps that need it.
    probe: MediaProbe | None = None

    @property
    def media(self) -> MediaProbe:
        """Return the original's probe; run_recipe probes for the steps that need it."""
        if self.probe is None:
            raise RuntimeError("a step read the probe but the recipe did not say it needs one")
        return self.probe

"""The policy every Prefect task of assetflow shares: retries driven by the error tree."""

from __future__ import annotations

from typing import Any

from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import TaskRun
from prefect.states import State
from prefect.tasks import exponential_backoff

from core.errors import is_transient
from tasks.retrying import RetryPolicy

# Three more tries, 2 s, 4 s, 8 s apart, each stretched by up to half again at
# random so that many runs failing together do not retry together.
RETRIES = 3
RETRY_DELAYS = exponential_backoff(backoff_factor=2)
RETRY_JITTER = 0.5
# The same three retries for a step run inline in a batch item's task run
# (flows/step_runs.py), up to 2 s, 4 s, 8 s apart with full jitter.
INLINE_RETRIES = RetryPolicy(attempts=RETRIES + 1, base_delay_s=2.0, max_delay_s=8.0)


def retry_if_transient(_task: Any, _task_run: TaskRun, state: State[Any]) -> bool:
    """Retry a failed task run only when its error is a TransientError."""
    outcome = state.result(raise_on_failure=False)
    return isinstance(outcome, BaseException) and is_transient(outcome)


def task_policy() -> dict[str, Any]:
    """Keyword arguments for ``@task``: the shared retries, and no Prefect result cache.

    Work is not repeated because each derivation step checks the recipe keys in
    the graph; Prefect's input-hash cache would only hash settings and paths.
    """
    return {
        "cache_policy": NO_CACHE,
        "retries": RETRIES,
        "retry_delay_seconds": RETRY_DELAYS,
        "retry_jitter_factor": RETRY_JITTER,
        "retry_condition_fn": retry_if_transient,
    }

"""The batch's fan-out: items to ``ingest-items`` task runs, a bounded number in flight.

Each task run ingests a few items one after another, their steps inline
(flows/runtime.py): a task run costs about 10 ms of the flow's CPU and 50 ms
of the Prefect server's here (on Dask 0.35 s more), more than a small item's
whole ingest, so a subflow or a task run per item or per step would cost more
than the work. Each item still has its own job in the graph and its own log
lines. The task runs go to a Dask cluster through prefect-dask when
``ASSETFLOW_DASK_ADDRESS`` names a scheduler, to a pool of threads in the
flow's process otherwise; the flow picks the runner when it runs, so a
deployment's worker follows its own settings.
"""

from __future__ import annotations

import math
import queue
import uuid
from collections.abc import Iterable, Iterator
from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.futures import PrefectFuture
from prefect.runtime import task_run
from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner
from pydantic import BaseModel

from core.errors import DatabaseUnavailable
from core.requests import AssetRequest
from core.settings import Settings
from flows.jobs import JobOutcome, fail_job, internal_error
from flows.pipeline import ingest_one
from flows.recipes import RecipeOptions
from flows.runtime import StepMode
from models.db import process_engine
from models.tables import JobStatus


class BatchItem(BaseModel):
    """A manifest item to ingest: its line, its job, and its request redacted.

    The job holds the source as given; the task run's parameters never do.
    """

    line: int
    job_id: uuid.UUID
    request: AssetRequest


def _lines_of_items() -> str:
    items = task_run.parameters["items"]
    first, last = items[0].line, items[-1].line
    return f"line-{first}" if first == last else f"lines-{first}-{last}"


@task(name="ingest-items", task_run_name=_lines_of_items, cache_policy=NO_CACHE)
def ingest_items(items: list[BatchItem], *, settings: Settings) -> list[JobOutcome]:
    """Ingest a few manifest items one after another and report how each ended.

    The items share one task run and their steps run inline in it, with their
    retries. An unexpected error in one item is logged with its traceback and
    recorded on its job (the job's lifecycle does that), and the next item goes
    on. Items share their process's engine: the flow's on threads, their own on
    a Dask worker.
    """
    logger = get_run_logger()
    engine = process_engine(settings)
    outcomes = []
    for item in items:
        try:
            outcome = ingest_one(
                item.job_id,
                settings=settings,
                engine=engine,
                mode=StepMode.INLINE,
                recipe=RecipeOptions(),
            )
        except Exception as exc:
            logger.exception("line %d: internal error", item.line)
            error = internal_error(exc)
            try:
                fail_job(engine, item.job_id, error, flow_run_id=None)
            except DatabaseUnavailable as unreachable:
                # The job stays unfinished until its run has ended (flows/hooks.py).
                logger.error("line %d: %s", item.line, unreachable)
            outcome = JobOutcome(item.job_id, None, JobStatus.FAILED, error)
        outcomes.append(outcome)
    return outcomes


def task_runner_for(settings: Settings, concurrency: int) -> TaskRunner[Any]:
    """Return the runner the items fan out on: Dask when a scheduler is configured, else threads."""
    if settings.dask_address:
        # Imported here: dask.distributed is heavy and only needed for a cluster.
        from prefect_dask import DaskTaskRunner

        return DaskTaskRunner(address=settings.dask_address)
    return ThreadPoolTaskRunner(max_workers=concurrency)


def items_per_task_run(pending: int, *, in_flight: int, most: int) -> int:
    """Split ``pending`` items into task runs of at most ``most``, keeping ``in_flight`` busy.

    A task run costs about 10 ms of the flow's CPU and 50 ms of the Prefect
    server's, and on Dask 0.35 s more (bench/bench_orchestration.py): a few
    items per task run amortise that. A short batch is still spread over
    every slot, one item each at the least.
    """
    return max(1, min(most, math.ceil(pending / in_flight)))


def fan_out(
    chunks: Iterable[list[BatchItem]],
    *,
    runner: TaskRunner[Any],
    settings: Settings,
    limit: int,
    per_task: int,
) -> Iterator[tuple[BatchItem, JobOutcome]]:
    """Ingest the items of each chunk, at most ``limit`` task runs in flight; yield each as it ends.

    A chunk is split into task runs as ``items_per_task_run`` says; the next
    chunk is taken only when its turn comes, so a long manifest is read as
    the batch goes.
    """
    in_flight: dict[uuid.UUID, list[BatchItem]] = {}
    finished: queue.SimpleQueue[PrefectFuture[list[JobOutcome]]] = queue.SimpleQueue()

    def collect_one() -> list[tuple[BatchItem, JobOutcome]]:
        future = finished.get()
        items = in_flight.pop(future.task_run_id)
        return list(zip(items, _outcomes_of(future, len(items)), strict=True))

    for chunk in chunks:
        size = items_per_task_run(len(chunk), in_flight=limit, most=per_task)
        for start in range(0, len(chunk), size):
            while len(in_flight) >= limit:
                yield from collect_one()
            items = chunk[start : start + size]
            future = runner.submit(ingest_items, {"items": items, "settings": settings})
            in_flight[future.task_run_id] = items
            future.add_done_callback(finished.put)
    while in_flight:
        yield from collect_one()


def _outcomes_of(future: PrefectFuture[list[JobOutcome]], count: int) -> list[JobOutcome]:
    """Read a finished task run's outcomes; a task run that failed as a whole fails each item."""
    outcomes = future.result(raise_on_failure=False)
    if isinstance(outcomes, list):
        return outcomes
    error = internal_error(outcomes) if isinstance(outcomes, BaseException) else str(outcomes)
    return [JobOutcome(None, None, JobStatus.FAILED, error)] * count

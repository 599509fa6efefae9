"""The ``batch-ingest`` flow: every item of a manifest not ingested yet, a bounded number at once.

The items are ingested by task runs of ``ingest-items``, each running the
whole pipeline for a few items one after another, their steps inline: a task
run costs about 10 ms of the flow's CPU and 50 ms of the Prefect server's here
(on Dask 0.35 s more), more than a small item's whole ingest, so a subflow
or a task run per item or per step would cost more than the work. Each item
still has its own job in the graph, its own log lines and its row in the
summary. The task runs go to a Dask cluster through prefect-dask when
``ASSETFLOW_DASK_ADDRESS`` names a scheduler, to a pool of threads in the
flow's process otherwise; the flow picks the runner when it runs, so a
deployment's worker follows its own settings. Either way at most
``concurrency`` items are in flight, and the manifest is read as the batch
goes, a chunk at a time.

An item whose identifier is already used in its project is skipped, unless
that asset's earlier ingest failed: then it is retried. A failed item is
recorded and the batch goes on; the flow ends with a table artifact of every
item.
"""

from __future__ import annotations

import math
import queue
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from enum import StrEnum
from itertools import islice
from typing import Annotated, Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.futures import PrefectFuture
from prefect.runtime import task_run
from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner
from pydantic import BaseModel, Field
from sqlalchemy import Engine, select
from sqlmodel import col

from core.redact import redact_source
from core.settings import Settings
from flows.hooks import job_follows_run
from flows.pipeline import IngestOutcome, ingest_one
from flows.requests import AssetRequest
from flows.step_runs import steps_inline
from models import graph
from models.db import make_engine, new_session, process_engine
from models.tables import AssetStatus, JobStatus, Project
from tasks.manifest import ManifestEntry, read_manifest

# Manifest entries looked up in the graph in one session before they are submitted.
LOOKUP_CHUNK = 200
ARTIFACT_KEY = "batch-ingest"


class ItemStatus(StrEnum):
    COMPLETED = "completed"
    FAILED = "failed"
    SKIPPED = "skipped"


class BatchRow(BaseModel):
    """How one item of the batch ended."""

    line: int
    # None for a line that could not be read.
    identifier: str | None
    status: ItemStatus
    asset_id: uuid.UUID | None = None
    error: str | None = None
    # Why a skipped item was skipped.
    note: str | None = None


class BatchSummary(BaseModel):
    """Counts and per-item rows of one batch, in manifest order."""

    manifest: str
    completed: int
    failed: int
    skipped: int
    rows: list[BatchRow]

    @property
    def total(self) -> int:
        """Return the number of items in the batch."""
        return self.completed + self.failed + self.skipped


RowListener = Callable[[BatchRow], None]
_row_listener: ContextVar[RowListener | None] = ContextVar("batch_row_listener", default=None)


@contextmanager
def reporting_rows(listener: RowListener) -> Iterator[None]:
    """Call ``listener`` with each item's row as it ends, for batches run in this context.

    For an in-process caller that shows progress (the CLI); the listener runs
    on the flow's thread.
    """
    token = _row_listener.set(listener)
    try:
        yield
    finally:
        _row_listener.reset(token)


class BatchItem(BaseModel):
    """A manifest item to ingest: its line and what to ingest."""

    line: int
    request: AssetRequest


def _lines_of_items() -> str:
    items = task_run.parameters["items"]
    first, last = items[0].line, items[-1].line
    return f"line-{first}" if first == last else f"lines-{first}-{last}"


@task(name="ingest-items", task_run_name=_lines_of_items, cache_policy=NO_CACHE)
def ingest_items(
    items: list[BatchItem], *, settings: Settings, engine: Engine | None = None
) -> list[IngestOutcome]:
    """Ingest a few manifest items one after another and report how each ended.

    The items share one task run and their steps run inline in it, with their
    retries. An unexpected error in one item is logged with its traceback and
    recorded on its job (ingest_one does that), and the next item goes on.
    Items on threads share the flow's ``engine``; items in other processes
    (Dask workers) get None, since an engine cannot travel, and share their
    process's.
    """
    logger = get_run_logger()
    shared = engine or process_engine(settings.database_url)
    outcomes = []
    with steps_inline():
        for item in items:
            try:
                outcome = ingest_one(item.request, job_id=None, settings=settings, engine=shared)
            except Exception as exc:
                logger.exception("line %d: internal error", item.line)
                error = f"internal error: {type(exc).__name__}: {exc}"
                outcome = IngestOutcome(None, None, JobStatus.FAILED, error)
            outcomes.append(outcome)
    return outcomes


def items_per_task_run(pending: int, *, in_flight: int, most: int) -> int:
    """Split ``pending`` items into task runs of at most ``most``, keeping ``in_flight`` busy.

    A task run costs about 10 ms of the flow's CPU and 50 ms of the Prefect
    server's, and on Dask 0.35 s more (bench/bench_orchestration.py): a few
    items per task run amortise that. A short batch is still spread over
    every slot, one item each at the least.
    """
    return max(1, min(most, math.ceil(pending / in_flight)))


def task_runner_for(settings: Settings, concurrency: int) -> TaskRunner[Any]:
    """Return the runner the items fan out on: Dask when a scheduler is configured, else threads."""
    if settings.dask_address:
        # Imported here: dask.distributed is heavy and only needed for a cluster.
        from prefect_dask import DaskTaskRunner

        return DaskTaskRunner(address=settings.dask_address)
    return ThreadPoolTaskRunner(max_workers=concurrency)


@flow(
    name="batch-ingest",
    # A crashed batch fails the jobs of the items it was running at once.
    on_crashed=[job_follows_run],
    on_cancellation=[job_follows_run],
)
def batch_ingest(
    manifest: Annotated[
        str,
        Field(
            description="A CSV or JSON Lines manifest (local path, http(s) URL or "
            "s3://bucket/key.csv), or an s3://bucket/prefix/ drop folder"
        ),
    ],
    concurrency: Annotated[
        int | None,
        Field(ge=1, description="Items ingested at once; default ASSETFLOW_BATCH_CONCURRENCY"),
    ] = None,
    project: Annotated[str, Field(description="Project of items that name none")] = "default",
    items_per_task: Annotated[
        int | None,
        Field(
            ge=1,
            le=100,
            description="Most items one task run ingests, one after another; 1 gives each "
            "item its own task run; default ASSETFLOW_BATCH_ITEMS_PER_TASK",
        ),
    ] = None,
) -> BatchSummary:
    """Ingest every item of the manifest not ingested yet and summarise how each ended.

    Args:
        manifest: A CSV or JSON Lines manifest (local path, http(s) URL or
            s3://bucket/key.csv), or an s3://bucket/prefix/ drop folder.
        concurrency: Items ingested at once; empty: ASSETFLOW_BATCH_CONCURRENCY.
        project: Project of the items that name none.
        items_per_task: Most items one task run ingests, one after another;
            1 gives each item its own task run; empty: ASSETFLOW_BATCH_ITEMS_PER_TASK.
    """
    logger = get_run_logger()
    settings = Settings()
    in_flight = concurrency or settings.batch_concurrency
    entries = read_manifest(manifest, settings=settings, project=project)
    engine = make_engine(settings.database_url)
    try:
        with task_runner_for(settings, in_flight) as runner:
            rows = _run_items(
                entries,
                runner=runner,
                settings=settings,
                engine=engine,
                limit=in_flight,
                per_task=items_per_task or settings.batch_items_per_task,
            )
    finally:
        engine.dispose()
    summary = _summarise(redact_source(manifest), rows)
    _publish(summary)
    logger.info(
        "batch of %s: %d completed, %d failed, %d skipped",
        summary.manifest,
        summary.completed,
        summary.failed,
        summary.skipped,
    )
    return summary


def _run_items(
    entries: Iterable[ManifestEntry],
    *,
    runner: TaskRunner[Any],
    settings: Settings,
    engine: Engine,
    limit: int,
    per_task: int,
) -> list[BatchRow]:
    """Submit the entries to be ingested, at most ``limit`` task runs in flight; collect rows."""
    listener = _row_listener.get()
    # Opening an engine per task run costs a connection each (bench_orchestration.py).
    shared_engine = engine if isinstance(runner, ThreadPoolTaskRunner) else None
    rows: list[BatchRow] = []
    first_line: dict[tuple[str, str], int] = {}
    in_flight: dict[uuid.UUID, list[BatchItem]] = {}
    finished: queue.SimpleQueue[PrefectFuture[list[IngestOutcome]]] = queue.SimpleQueue()

    def record(row: BatchRow) -> None:
        rows.append(row)
        if listener is not None:
            listener(row)

    def collect_one() -> None:
        future = finished.get()
        for row in _rows_of(future, in_flight.pop(future.task_run_id)):
            record(row)

    iterator = iter(entries)
    while chunk := list(islice(iterator, LOOKUP_CHUNK)):
        requests = [_with_identifier(entry.request) for entry in chunk if entry.request]
        existing = _existing_assets(engine, requests)
        pending: list[BatchItem] = []
        for entry in chunk:
            if entry.request is None:
                record(
                    BatchRow(
                        line=entry.line,
                        identifier=None,
                        status=ItemStatus.FAILED,
                        error=entry.error,
                    )
                )
                continue
            request = _with_identifier(entry.request)
            key = (request.project, str(request.identifier))
            skipped = _skipped(entry.line, key, existing, first_line)
            first_line.setdefault(key, entry.line)
            if skipped is not None:
                record(skipped)
                continue
            pending.append(BatchItem(line=entry.line, request=request))
        size = items_per_task_run(len(pending), in_flight=limit, most=per_task)
        for start in range(0, len(pending), size):
            while len(in_flight) >= limit:
                collect_one()
            items = pending[start : start + size]
            parameters = {"items": items, "settings": settings, "engine": shared_engine}
            future = runner.submit(ingest_items, parameters)
            in_flight[future.task_run_id] = items
            future.add_done_callback(finished.put)
    while in_flight:
        collect_one()
    return sorted(rows, key=lambda row: row.line)


def _with_identifier(request: AssetRequest) -> AssetRequest:
    """Fill in the identifier the pipeline would give the item (its redacted source)."""
    if request.identifier:
        return request
    return request.model_copy(update={"identifier": redact_source(request.source)})


def _existing_assets(
    engine: Engine, requests: list[AssetRequest]
) -> dict[tuple[str, str], tuple[uuid.UUID, AssetStatus]]:
    """Look up which of the requests' identifiers are already used, in one session."""
    found: dict[tuple[str, str], tuple[uuid.UUID, AssetStatus]] = {}
    with new_session(engine) as session:
        projects = {
            name: session.execute(
                select(Project).where(col(Project.name) == name)
            ).scalar_one_or_none()
            for name in {request.project for request in requests}
        }
        for request in requests:
            project = projects[request.project]
            identifier = str(request.identifier)
            if project is None:
                continue
            asset = graph.find_asset(session=session, project_id=project.id, identifier=identifier)
            if asset is not None:
                found[(request.project, identifier)] = (asset.id, asset.status)
    return found


def _skipped(
    line: int,
    key: tuple[str, str],
    existing: dict[tuple[str, str], tuple[uuid.UUID, AssetStatus]],
    first_line: dict[tuple[str, str], int],
) -> BatchRow | None:
    """Return the skipped row for an item that must not be ingested, or None to ingest it."""
    if key in first_line:
        note = f"same identifier as line {first_line[key]}"
        return BatchRow(line=line, identifier=key[1], status=ItemStatus.SKIPPED, note=note)
    if key not in existing:
        return None
    asset_id, status = existing[key]
    if status == AssetStatus.FAILED:
        return None  # its earlier ingest failed: retry it
    note = "already ingested" if status == AssetStatus.READY else f"asset is {status}"
    return BatchRow(
        line=line, identifier=key[1], status=ItemStatus.SKIPPED, asset_id=asset_id, note=note
    )


def _rows_of(future: PrefectFuture[list[IngestOutcome]], items: list[BatchItem]) -> list[BatchRow]:
    """Turn a finished task run's future into its items' rows.

    A task run that failed as a whole (its worker died, say) fails each of its items.
    """
    outcomes = future.result(raise_on_failure=False)
    if not isinstance(outcomes, list):
        error = f"internal error: {type(outcomes).__name__}: {outcomes}"
        return [
            BatchRow(
                line=item.line,
                identifier=item.request.identifier,
                status=ItemStatus.FAILED,
                error=error,
            )
            for item in items
        ]
    return [_row_of(outcome, item) for outcome, item in zip(outcomes, items, strict=True)]


def _row_of(outcome: IngestOutcome, item: BatchItem) -> BatchRow:
    """Turn how one item's ingest ended into its row."""
    line, identifier = item.line, item.request.identifier
    if outcome.status == JobStatus.COMPLETED:
        return BatchRow(
            line=line, identifier=identifier, status=ItemStatus.COMPLETED, asset_id=outcome.asset_id
        )
    if outcome.existing_asset_id is not None:
        # Another run took the identifier between our look-up and the ingest.
        return BatchRow(
            line=line,
            identifier=identifier,
            status=ItemStatus.SKIPPED,
            asset_id=outcome.existing_asset_id,
            note="already ingested",
        )
    return BatchRow(
        line=line,
        identifier=identifier,
        status=ItemStatus.FAILED,
        asset_id=outcome.asset_id,
        error=outcome.error,
    )


def _summarise(manifest: str, rows: list[BatchRow]) -> BatchSummary:
    counts = {status: sum(row.status == status for row in rows) for status in ItemStatus}
    return BatchSummary(
        manifest=manifest,
        completed=counts[ItemStatus.COMPLETED],
        failed=counts[ItemStatus.FAILED],
        skipped=counts[ItemStatus.SKIPPED],
        rows=rows,
    )


def _publish(summary: BatchSummary) -> None:
    """Attach the summary to the flow run as a table artifact."""
    create_table_artifact(
        key=ARTIFACT_KEY,
        table=[row.model_dump(mode="json") for row in summary.rows],
        description=(
            f"Batch ingest of {summary.manifest}: {summary.total} items, "
            f"{summary.completed} completed, {summary.failed} failed, {summary.skipped} skipped"
        ),
    )

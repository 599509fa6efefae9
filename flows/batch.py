"""The ``batch-ingest`` flow: every item of a manifest not ingested yet, a bounded number at once.

The manifest is read a chunk at a time; each chunk's identifiers are looked
up in the graph in one session. An item whose identifier is already used in
its project is skipped, unless that asset's earlier ingest failed: then it is
retried. The rest fan out (flows/fanout.py). A failed item is recorded and
the batch goes on; the flow ends with a table artifact of every item.
"""

from __future__ import annotations

import functools
import uuid
from collections import ChainMap
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from itertools import islice
from typing import Annotated, Any

from prefect import Flow, flow, get_run_logger
from prefect.artifacts import create_table_artifact
from prefect.states import State
from pydantic import BaseModel, Field
from sqlalchemy import Engine, select
from sqlmodel import Session, col

from core.forms import titled
from core.redact import normalise_source, redact_source
from core.requests import DEFAULT_PROJECT, AssetRequest
from core.settings import Settings
from flows.fanout import BatchItem, fan_out, task_runner_for
from flows.hooks import job_follows_run
from flows.jobs import JobOutcome, new_ingest_job
from flows.lease import lease_ran_out
from flows.run_states import all_failed, end
from flows.runtime import current_flow_run_id
from models import graph
from models.db import process_engine, transact
from models.tables import AssetStatus, JobStatus, Project
from tasks.manifest import ManifestEntry, is_drop_folder, read_manifest

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


# Called with each item's row as it ends, on the flow's thread.
RowListener = Callable[[BatchRow], None]
# Identifiers already used, by (project, identifier): the asset and its status,
# FAILED standing for a processing asset whose run died (its lease ran out).
Existing = dict[tuple[str, str], tuple[uuid.UUID, AssetStatus]]


def batch_flow(on_row: RowListener | None = None) -> Flow[..., State[Any]]:
    """Build the batch flow; ``on_row`` hears of each item as it ends (the CLI's progress)."""

    @flow(
        name="batch-ingest",
        # A crashed batch fails the jobs of the items it was running at once.
        on_crashed=[job_follows_run],
        on_cancellation=[job_follows_run],
    )
    def batch_ingest(
        manifest: Annotated[str, titled("Manifest")],
        concurrency: Annotated[int, titled("Items at once"), Field(ge=0)] = 0,
        project: Annotated[str, titled("Project")] = DEFAULT_PROJECT,
        items_per_task: Annotated[int, titled("Items per task run"), Field(ge=0, le=100)] = 0,
    ) -> State[Any]:
        """Ingest every item of the manifest not ingested yet and summarise how each ended.

        Args:
            manifest: A CSV or JSON Lines manifest (an http(s) URL, s3://bucket/key.csv, or a
                local path below ASSETFLOW_LOCAL_ROOTS on the worker), or an s3://bucket/prefix/
                drop folder.
            concurrency: Items ingested at once; 0: ASSETFLOW_BATCH_CONCURRENCY.
            project: The project of the items that name none.
            items_per_task: The most items one task run ingests, one after another (1: a task
                run each); 0: ASSETFLOW_BATCH_ITEMS_PER_TASK.
        """
        settings = Settings()
        summary = run_batch(
            manifest,
            settings=settings,
            project=project,
            concurrency=concurrency or settings.batch_concurrency,
            per_task=items_per_task or settings.batch_items_per_task,
            on_row=on_row,
        )
        # Completed, its failures in the artifact, unless every item failed.
        return end(summary, all_failed([row.error for row in summary.rows], what="items"))

    return batch_ingest


batch_ingest = batch_flow()


def run_batch(
    manifest: str,
    *,
    settings: Settings,
    project: str,
    concurrency: int,
    per_task: int,
    on_row: RowListener | None,
) -> BatchSummary:
    """Ingest the manifest's new items, publish the summary as an artifact, and return it."""
    rows: list[BatchRow] = []

    def record(row: BatchRow) -> None:
        rows.append(row)
        if on_row is not None:
            on_row(row)

    entries = read_manifest(manifest, settings=settings, project=project)
    # The process's engine: the items on threads share it and its connections.
    engine = process_engine(settings)
    try:
        drop_folder_id = record_drop_folder(engine, manifest)
        with task_runner_for(settings, concurrency) as runner:
            finished = fan_out(
                _pending_chunks(entries, engine, record, drop_folder_id),
                runner=runner,
                settings=settings,
                limit=concurrency,
                per_task=per_task,
            )
            for item, outcome in finished:
                record(_row_of(outcome, item))
    finally:
        engine.dispose()
    summary = _summarise(redact_source(manifest), sorted(rows, key=lambda row: row.line))
    _publish(summary)
    get_run_logger().info(
        "batch of %s: %d completed, %d failed, %d skipped",
        summary.manifest,
        summary.completed,
        summary.failed,
        summary.skipped,
    )
    return summary


def record_drop_folder(engine: Engine, manifest: str) -> uuid.UUID | None:
    """Record the manifest as a drop folder when it is an S3 prefix; return its id."""
    if not is_drop_folder(manifest):
        return None
    location = redact_source(normalise_source(manifest))
    return transact(
        engine,
        lambda session: graph.ensure_drop_folder(session=session, location=location).id,
        describe="recording the drop folder",
    )


def _pending_chunks(
    entries: Iterable[ManifestEntry],
    engine: Engine,
    record: Callable[[BatchRow], None],
    drop_folder_id: uuid.UUID | None,
) -> Iterator[list[BatchItem]]:
    """Yield the items to ingest a chunk at a time, each with its job; record the others."""
    first_line: dict[tuple[str, str], int] = {}
    flow_run_id = current_flow_run_id()
    iterator = iter(entries)
    while chunk := list(islice(iterator, LOOKUP_CHUNK)):
        plan = transact(
            engine,
            functools.partial(
                _plan_chunk,
                chunk=chunk,
                first_line=first_line,
                flow_run_id=flow_run_id,
                drop_folder_id=drop_folder_id,
            ),
            describe="planning the batch",
        )
        # Taken from the plan only once it is committed: a plan written again
        # after a lost connection must not see its own first try's identifiers.
        first_line.update(plan.first_lines)
        for row in plan.rows:
            record(row)
        yield plan.pending


@dataclass(frozen=True)
class ChunkPlan:
    """What to do with one chunk of the manifest, as written in one transaction."""

    # The items to ingest, each with its (new) job.
    pending: list[BatchItem]
    # The rows of the items not ingested: unreadable, skipped.
    rows: list[BatchRow]
    # The line where each identifier first appeared in this chunk.
    first_lines: dict[tuple[str, str], int]


def _plan_chunk(
    session: Session,
    *,
    chunk: list[ManifestEntry],
    # Read only: a ChainMap writes to its first map, this chunk's.
    first_line: dict[tuple[str, str], int],
    flow_run_id: uuid.UUID | None,
    drop_folder_id: uuid.UUID | None,
) -> ChunkPlan:
    """Find the chunk's unreadable and skipped entries; write a job for each of the rest."""
    existing = _existing_assets(session, [entry.request for entry in chunk if entry.request])
    plan = ChunkPlan(pending=[], rows=[], first_lines={})
    seen: ChainMap[tuple[str, str], int] = ChainMap(plan.first_lines, first_line)
    for entry in chunk:
        if entry.request is None:
            plan.rows.append(
                BatchRow(
                    line=entry.line, identifier=None, status=ItemStatus.FAILED, error=entry.error
                )
            )
            continue
        request = entry.request.model_copy(update={"identifier": entry.request.asset_identifier})
        key = (request.project, request.identifier)
        skipped = _skipped(entry.line, key, existing, seen)
        seen.setdefault(key, entry.line)
        if skipped is not None:
            plan.rows.append(skipped)
            continue
        job, _ = new_ingest_job(
            session, request, flow_run_id=flow_run_id, drop_folder_id=drop_folder_id
        )
        plan.pending.append(BatchItem(line=entry.line, job_id=job.id, request=request.redacted()))
    return plan


def _existing_assets(session: Session, requests: list[AssetRequest]) -> Existing:
    """Look up which of the requests' identifiers are already used."""
    found: Existing = {}
    projects = {
        name: session.execute(select(Project).where(col(Project.name) == name)).scalar_one_or_none()
        for name in {request.project for request in requests}
    }
    for request in requests:
        project = projects[request.project]
        identifier = request.asset_identifier
        if project is None:
            continue
        asset = graph.find_asset(session=session, project_id=project.id, identifier=identifier)
        if asset is not None:
            # A processing asset whose run died is retried like a failed one.
            status = AssetStatus.FAILED if lease_ran_out(asset) else asset.status
            found[(request.project, identifier)] = (asset.id, status)
    return found


def _skipped(
    line: int,
    key: tuple[str, str],
    existing: Existing,
    first_line: Mapping[tuple[str, str], int],
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


def _row_of(outcome: JobOutcome, item: BatchItem) -> BatchRow:
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

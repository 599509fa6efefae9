"""Creation by ingest, as POST /files, POST /tasks and project assets make it.

The job is written and its run started exactly as ``submit_ingest`` does;
an identifier the project already holds is refused first, writing nothing.
"""

from __future__ import annotations

import time
import uuid

import anyio
from sqlalchemy import Engine
from sqlmodel import col, select

from api.context import AppContext
from api.errors import ApiError
from api.runner import RunnerUnavailable
from api.schemas import TaskObject
from api.views import load_task
from api.webhooks.subscriptions import TASK_EVENT_TYPES, create_subscription
from core.requests import AssetRequest
from flows.jobs import create_ingest_job, new_ingest_job
from models.db import new_session
from models.tables import Asset, AssetStatus, IngestJob, JobStatus, Project

# Seconds between reads of a job's row while a synchronous create waits for it.
WAIT_POLL_S = 0.1
FINISHED = (JobStatus.COMPLETED, JobStatus.FAILED)


def refuse_a_used_identifier(engine: Engine, request: AssetRequest) -> None:
    """Raise 409 naming the asset when the project holds the identifier already.

    An asset whose ingest failed may be ingested again under its identifier.
    """
    with new_session(engine) as session:
        asset = session.exec(
            select(Asset)
            .join(Project, col(Project.id) == col(Asset.project_id))
            .where(Project.name == request.project, Asset.identifier == request.asset_identifier)
        ).one_or_none()
    if asset is not None and asset.status != AssetStatus.FAILED:
        raise ApiError(
            409,
            f"identifier {request.asset_identifier!r} is already used in project "
            f"{request.project!r} by asset {asset.id}",
            field="identifier",
            existing_asset_id=str(asset.id),
        )


def _known_job(engine: Engine, idempotency_key: str | None) -> IngestJob | None:
    if idempotency_key is None:
        return None
    with new_session(engine) as session:
        return session.exec(
            select(IngestJob).where(IngestJob.idempotency_key == idempotency_key)
        ).one_or_none()


def _write_job(
    engine: Engine, request: AssetRequest, idempotency_key: str | None, webhook_url: str | None
) -> IngestJob:
    """Write the job and, for ``webhook_url``, its one-off subscription, in one transaction.

    Together, so the task cannot end before its subscription exists.
    """
    if webhook_url is None:
        return create_ingest_job(engine, request, idempotency_key=idempotency_key)
    with new_session(engine) as session:
        job, created = new_ingest_job(session, request, idempotency_key=idempotency_key)
        if created:
            session.flush()  # the subscription's foreign key needs the job's row
            create_subscription(
                session=session, url=webhook_url, events=TASK_EVENT_TYPES, job_id=job.id
            )
        session.commit()
        return job


def start_ingest(
    context: AppContext,
    request: AssetRequest,
    *,
    idempotency_key: str | None,
    webhook_url: str | None = None,
) -> IngestJob:
    """Write the ingest's job and queue its run; return the job as written.

    The same idempotency key returns the same job (its run started if it had
    none yet). Raises ApiError 409 for a used identifier, 503 when the run
    cannot be queued (the job stays, and a retry with the key queues it).
    ``webhook_url`` subscribes that URL to the task's end.
    """
    job = _known_job(context.engine, idempotency_key)
    if job is None:
        refuse_a_used_identifier(context.engine, request)
        job = _write_job(context.engine, request, idempotency_key, webhook_url)
    if job.status == JobStatus.PENDING and job.flow_run_id is None:
        try:
            context.runner.start(job.id)
        except RunnerUnavailable as exc:
            raise ApiError(
                503, f"the ingest could not be started: {exc}", task_id=str(job.id)
            ) from exc
    return job


def sync_wait_s(settings_limit: float, prefer: str | None) -> float:
    """Return how long a synchronous create waits: the setting, or less if the client prefers.

    ``Prefer: wait=N`` (RFC 7240) asks for at most N seconds; a longer wish is
    cut to the setting.
    """
    for preference in (prefer or "").split(","):
        name, _, value = preference.strip().partition("=")
        if name.strip().lower() == "wait":
            try:
                return max(0.0, min(settings_limit, float(value.strip())))
            except ValueError:
                raise ApiError(
                    422, "Prefer: wait= takes a number of seconds", field="Prefer"
                ) from None
    return settings_limit


async def wait_for_task(context: AppContext, job_id: uuid.UUID, timeout_s: float) -> TaskObject:
    """Return the task once it has ended, or as it stands after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        task = await anyio.to_thread.run_sync(read_task, context.engine, job_id)
        if task.status in FINISHED or time.monotonic() >= deadline:
            return task
        await anyio.sleep(WAIT_POLL_S)


def read_task(engine: Engine, job_id: uuid.UUID) -> TaskObject:
    """Read a task that exists."""
    with new_session(engine) as session:
        task = load_task(session, job_id)
    assert task is not None
    return task

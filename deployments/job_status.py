"""A job as a user polls it; checked against its flow run only while it is unfinished.

A finished job (completed or failed) is read from the asset store alone, so
``assetflow job`` answers without loading Prefect. An unfinished one is first
reconciled: a job whose flow run died without ending it is failed.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from core.environment import database_url
from core.logs import get_logger
from models.db import make_engine, new_session
from models.tables import IngestJob, JobStatus

if TYPE_CHECKING:
    from core.settings import Settings

logger = get_logger("job_status")


@dataclass(frozen=True)
class JobView:
    """A job as a user polls it."""

    id: uuid.UUID
    status: JobStatus
    progress: int
    asset_id: uuid.UUID | None
    error: str | None
    flow_run_id: uuid.UUID | None
    idempotency_key: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, job: IngestJob) -> JobView:
        """Copy the fields a user reads from a job row."""
        return cls(
            id=job.id,
            status=JobStatus(job.status),
            progress=job.progress,
            asset_id=job.asset_id,
            error=job.error,
            flow_run_id=job.flow_run_id,
            idempotency_key=job.idempotency_key,
            created_at=job.created_at,
            updated_at=job.updated_at,
        )

    @property
    def finished(self) -> bool:
        """Whether the job has ended, completed or failed."""
        return self.status in (JobStatus.COMPLETED, JobStatus.FAILED)


def get_job(job_id: uuid.UUID, *, settings: Settings | None = None) -> JobView:
    """Read a job; a job whose flow run died without ending it is failed first."""
    engine = make_engine(database_url() if settings is None else settings.database_url)
    try:
        return read_job(engine, job_id)
    finally:
        engine.dispose()


def read_job(engine: Engine, job_id: uuid.UUID) -> JobView:
    """Read a job from the store, reconciling it with its flow run while it is unfinished."""
    view = _read(engine, job_id)
    if view.finished or view.flow_run_id is None:
        return view
    # Prefect only for a job still under way (it costs a second or two to load).
    import httpx
    from prefect import get_client

    from flows.hooks import reconcile_jobs

    try:
        with get_client(sync_client=True) as client:
            reconcile_jobs(engine, client, job_ids=[job_id])
    except httpx.HTTPError as exc:
        # Prefect unreachable: the graph's word stands until the next read.
        logger.warning("could not check job %s against its flow run: %s", job_id, exc)
    return _read(engine, job_id)


def _read(engine: Engine, job_id: uuid.UUID) -> JobView:
    with new_session(engine) as session:
        return JobView.of(session.get_one(IngestJob, job_id))

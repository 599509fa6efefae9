"""Programmatic submission: start an ingest on a deployment and follow its job.

    job = submit_ingest("https://example.com/a.jpg", idempotency_key="cms-1234")
    job = get_job(job.id)          # status, progress, asset id, error, flow run id

The job row is written first, so it exists before any run does; the same
idempotency key returns the same job and never starts a second run (the
flow run is created with Prefect's own idempotency key, the job's id, so
even a submission retried after a crash finds its run).
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import cast

import httpx
from prefect import get_client
from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.objects import FlowRun
from prefect.deployments import run_deployment
from prefect.exceptions import ObjectNotFound
from sqlalchemy import Engine

from core.errors import PermanentError, TransientError
from core.requests import AssetRequest
from core.settings import Settings
from deployments.serve import INGEST_DEPLOYMENT
from flows.hooks import reconcile_jobs
from models import graph
from models.db import make_engine, new_session
from models.tables import IngestJob, JobKind, JobStatus

# Seconds between reads of a flow run's state while waiting for it to end.
WAIT_POLL_S = 0.5
DEFAULT_TIMEOUT_S = 3600.0

logger = logging.getLogger(__name__)


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


def submit_ingest(
    request: AssetRequest,
    *,
    idempotency_key: str | None = None,
    wait: bool = False,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    deployment: str = INGEST_DEPLOYMENT,
    settings: Settings | None = None,
) -> JobView:
    """Create an ingest job and start its flow run on ``deployment``; return the job.

    With ``wait``, return once the job has ended or ``timeout_s`` has passed.
    A known ``idempotency_key`` returns that key's job (waited for likewise)
    without starting another run. Raises ``TransientError`` when the Prefect
    API cannot be reached, ``PermanentError`` when the deployment does not exist.
    """
    settings = settings or Settings()
    engine = make_engine(settings.database_url)
    try:
        job = _create_job(engine, request, idempotency_key)
        with get_client(sync_client=True) as client:
            if job.flow_run_id is None:
                job = _start_run(engine, client, job, request, deployment)
            if wait:
                _wait_for_run(client, job, timeout_s)
            return _read_job(engine, client, job.id)
    finally:
        engine.dispose()


def get_job(job_id: uuid.UUID, *, settings: Settings | None = None) -> JobView:
    """Read a job; a job whose flow run died without ending it is failed first."""
    engine = make_engine((settings or Settings()).database_url)
    try:
        with get_client(sync_client=True) as client:
            return _read_job(engine, client, job_id)
    finally:
        engine.dispose()


def _create_job(engine: Engine, request: AssetRequest, idempotency_key: str | None) -> IngestJob:
    with new_session(engine) as session:
        job, _ = graph.create_job(
            session=session,
            kind=JobKind.INGEST,
            input=request.redacted().model_dump(mode="json"),
            idempotency_key=idempotency_key,
        )
        session.commit()
        return job


def _start_run(
    engine: Engine,
    client: SyncPrefectClient,
    job: IngestJob,
    request: AssetRequest,
    deployment: str,
) -> IngestJob:
    """Create the job's flow run (once, whatever the retries) and record it on the job."""
    try:
        # A coroutine only when called from async code.
        flow_run = cast(
            FlowRun,
            run_deployment(
                deployment,
                parameters={"request": request.model_dump(mode="json"), "job_id": str(job.id)},
                timeout=0,
                idempotency_key=f"ingest-job-{job.id}",
                as_subflow=False,
            ),
        )
    except ObjectNotFound as exc:
        raise PermanentError(
            f"no deployment {deployment!r} on the Prefect server at {client.api_url}: "
            "start one with 'assetflow serve' or 'assetflow deploy'"
        ) from exc
    except httpx.HTTPError as exc:
        raise TransientError(f"the Prefect API at {client.api_url} failed: {exc}") from exc
    with new_session(engine) as session:
        row = session.get_one(IngestJob, job.id)
        # Only the run id: the run itself may already have moved the job on.
        graph.update_job(session=session, job=row, flow_run_id=flow_run.id)
        session.commit()
        return row


def _wait_for_run(client: SyncPrefectClient, job: IngestJob, timeout_s: float) -> None:
    """Return once the job's flow run is in a final state, or after ``timeout_s``."""
    assert job.flow_run_id is not None
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        state = client.read_flow_run(job.flow_run_id).state
        if state is not None and state.is_final():
            return
        time.sleep(WAIT_POLL_S)


def _read_job(engine: Engine, client: SyncPrefectClient, job_id: uuid.UUID) -> JobView:
    try:
        reconcile_jobs(engine, client, job_ids=[job_id])
    except httpx.HTTPError as exc:
        # Prefect unreachable: the graph's word stands until the next read.
        logger.warning("could not check job %s against its flow run: %s", job_id, exc)
    with new_session(engine) as session:
        return JobView.of(session.get_one(IngestJob, job_id))

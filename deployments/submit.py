"""Programmatic submission: start an ingest on a deployment and follow its job.

    job = submit_ingest(AssetRequest(source=url), idempotency_key="cms-1234")
    job = get_job(job.id)          # deployments.job_status: status, progress, asset id, error

In two calls, as the HTTP API makes them:

    job = create_ingest_job(engine, request, idempotency_key=key)   # flows.jobs
    job = start_ingest_run(engine, job.id)                           # here

The job row is written first, so it exists before any run does; the same
idempotency key returns the same job and never starts a second run (the
flow run is created with Prefect's own idempotency key, the job's id, so
even a submission retried after a crash finds its run). Prefect gets the job
id and the redacted request; the run reads the source from the job.
"""

from __future__ import annotations

import time
import uuid
from typing import cast

import httpx
from prefect import get_client
from prefect.client.schemas.objects import FlowRun
from prefect.deployments import run_deployment
from prefect.exceptions import ObjectNotFound
from sqlalchemy import Engine

from core.errors import PermanentError, TransientError
from core.requests import AssetRequest
from core.settings import Settings
from deployments.job_status import JobView, read_job
from deployments.serve import INGEST_DEPLOYMENT, configured_api_url
from flows.jobs import create_ingest_job
from models import graph
from models.db import make_engine, new_session
from models.tables import IngestJob

# Seconds between reads of a flow run's state while waiting for it to end.
WAIT_POLL_S = 0.5
DEFAULT_TIMEOUT_S = 3600.0


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
        job = create_ingest_job(engine, request, idempotency_key=idempotency_key)
        job = start_ingest_run(engine, job.id, deployment=deployment)
        if wait:
            _wait_for_run(job, timeout_s)
        return read_job(engine, job.id)
    finally:
        engine.dispose()


def start_ingest_run(
    engine: Engine, job_id: uuid.UUID, *, deployment: str = INGEST_DEPLOYMENT
) -> IngestJob:
    """Start the ingest job's flow run on ``deployment``, once whatever the retries; return the job.

    The run gets the job's id and its redacted request: the source as given
    stays in the job row until the run has fetched it. A job that has a run
    already is returned as it is. Raises ``TransientError`` when the Prefect API
    cannot be reached, ``PermanentError`` when the deployment does not exist.
    """
    with new_session(engine) as session:
        job = session.get_one(IngestJob, job_id)
    if job.flow_run_id is not None:
        return job
    api_url = configured_api_url()
    try:
        # A coroutine only when called from async code.
        flow_run = cast(
            FlowRun,
            run_deployment(
                deployment,
                parameters={"request": job.input, "job_id": str(job.id)},
                timeout=0,
                # The server's idempotency: a retried start finds the run it made.
                idempotency_key=f"ingest-job-{job.id}",
                as_subflow=False,
            ),
        )
    except ObjectNotFound as exc:
        raise PermanentError(
            f"no deployment {deployment!r} on the Prefect server at {api_url}: "
            "start one with 'assetflow serve' or 'assetflow deploy'"
        ) from exc
    except httpx.HTTPError as exc:
        raise TransientError(
            f"the Prefect API at {api_url} failed: {exc}; is the server up?"
        ) from exc
    with new_session(engine) as session:
        row = session.get_one(IngestJob, job.id)
        # Only the run id: the run itself may already have moved the job on.
        graph.update_job(session=session, job=row, flow_run_id=flow_run.id)
        session.commit()
        return row


def _wait_for_run(job: IngestJob, timeout_s: float) -> None:
    """Return once the job's flow run is in a final state, or after ``timeout_s``."""
    assert job.flow_run_id is not None
    deadline = time.monotonic() + timeout_s
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline:
            state = client.read_flow_run(job.flow_run_id).state
            if state is not None and state.is_final():
                return
            time.sleep(WAIT_POLL_S)

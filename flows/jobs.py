"""Ending jobs: the job and its asset move together to completed/ready or failed."""

from __future__ import annotations

import uuid

from prefect.runtime import flow_run
from sqlalchemy import Engine

from models import graph
from models.db import new_session
from models.tables import Asset, AssetStatus, IngestJob, JobStatus


def finish_job(
    engine: Engine, job_id: uuid.UUID, asset_id: uuid.UUID, *, error: str | None
) -> None:
    """End the job and the asset: ready and processed, or failed with the error."""
    with new_session(engine) as session:
        asset = session.get_one(Asset, asset_id)
        job = session.get_one(IngestJob, job_id)
        if error is None:
            graph.update_asset(
                session=session, asset=asset, status=AssetStatus.READY, processed=True, error=None
            )
            graph.update_job(session=session, job=job, status=JobStatus.COMPLETED, progress=100)
        else:
            graph.update_asset(session=session, asset=asset, status=AssetStatus.FAILED, error=error)
            graph.update_job(session=session, job=job, status=JobStatus.FAILED, error=error)
        session.commit()


def fail_job(engine: Engine, job_id: uuid.UUID, error: str) -> None:
    """Mark a job failed with the error, touching no asset."""
    with new_session(engine) as session:
        job = session.get_one(IngestJob, job_id)
        graph.update_job(session=session, job=job, status=JobStatus.FAILED, error=error)
        session.commit()


def current_flow_run_id() -> uuid.UUID | None:
    """Return the id of the Prefect flow run this code runs in, if any."""
    run_id = flow_run.get_id()
    return uuid.UUID(run_id) if run_id else None

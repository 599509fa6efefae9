"""How an IngestJob follows its Prefect flow run when the run cannot end the job itself.

The ingest flow ends its job when it returns or raises. What it cannot record
is its own crash or cancellation. Two mechanisms cover that:

- ``job_follows_run``, the flows' on_crashed, on_failure and on_cancellation
  hook (``@flow(on_crashed=[job_follows_run], ...)``): Prefect runs on_crashed in
  the runner or worker that saw the flow's process die, on_failure and
  on_cancellation in the flow's own process;
- ``reconcile_jobs``, for runs whose hooks nobody could run (the worker itself
  was killed): the server's zombie automation marks such a run Crashed once its
  heartbeats stop (deployments/crash_detection.py), and reconciliation then
  fails every unfinished job whose flow run has ended, also a run that ended
  Completed without ending a job (its end could not be written: the database
  was down past the outage window), and takes over every processing asset
  whose lease has run out (flows/lease.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from prefect import Flow
from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.client.schemas.objects import FlowRun, State
from prefect.logging.loggers import flow_run_logger
from sqlalchemy import Engine, or_, select
from sqlmodel import Session, col

from core.settings import Settings
from flows.lease import UNFINISHED_JOB, lease_ran_out, take_over
from models import graph
from models.db import engine_for, transact
from models.tables import Asset, AssetStatus, IngestJob, JobStatus

UNFINISHED_ASSET = (AssetStatus.PENDING, AssetStatus.PROCESSING)
# The error of a job whose run completed without ending it.
COMPLETED_UNENDED = (
    "its flow run completed without recording how the job ended "
    "(the asset store could not be reached then)"
)
# Flow runs read from the Prefect API per request while reconciling.
RECONCILE_CHUNK = 200


def describe(state: State) -> str:
    """Say how a run ended, e.g. "flow run crashed: ... exited with status code -9"."""
    name = (state.name or state.type.value).lower()
    return f"flow run {name}: {state.message}" if state.message else f"flow run {name}"


def fail_unfinished_jobs(
    engine: Engine, *, flow_run_id: uuid.UUID, job_id: uuid.UUID | None, error: str
) -> list[uuid.UUID]:
    """Fail the run's pending or running jobs and their unfinished assets; return the job ids.

    A job belongs to the run by its ``flow_run_id`` or, before the run recorded
    itself on it, by ``job_id``. Finished jobs and ready assets are left alone.
    """
    owned = col(IngestJob.flow_run_id) == flow_run_id
    if job_id is not None:
        owned = or_(owned, col(IngestJob.id) == job_id)

    def write(session: Session) -> list[uuid.UUID]:
        jobs = session.execute(
            select(IngestJob).where(owned, col(IngestJob.status).in_(UNFINISHED_JOB))
        ).scalars()
        failed = []
        for job in jobs:
            graph.update_job(
                session=session,
                job=job,
                status=JobStatus.FAILED,
                error=error,
                flow_run_id=job.flow_run_id or flow_run_id,
                secret_source=None,
            )
            failed.append(job.id)
            asset = session.get(Asset, job.asset_id) if job.asset_id else None
            if asset is not None and asset.status in UNFINISHED_ASSET:
                graph.update_asset(
                    session=session, asset=asset, status=AssetStatus.FAILED, error=error
                )
        return failed

    return transact(engine, write, describe=f"failing the jobs of flow run {flow_run_id}")


def job_follows_run(flow: Flow[..., Any], flow_run: FlowRun, state: State) -> None:
    """Fail the run's unfinished job when the run crashed, failed or was cancelled."""
    engine = engine_for(Settings())
    try:
        failed = fail_unfinished_jobs(
            engine,
            flow_run_id=flow_run.id,
            job_id=_job_id(flow_run.parameters),
            error=describe(state),
        )
    finally:
        engine.dispose()
    if failed:
        flow_run_logger(flow_run, flow).warning(
            "%s: failed job(s) %s", describe(state), ", ".join(map(str, failed))
        )


def _job_id(parameters: Mapping[str, Any]) -> uuid.UUID | None:
    value = parameters.get("job_id")
    return uuid.UUID(str(value)) if value else None


def reconcile_jobs(
    engine: Engine, client: SyncPrefectClient, *, job_ids: Iterable[uuid.UUID] | None = None
) -> list[uuid.UUID]:
    """Fail unfinished jobs whose flow run has ended; return their ids.

    ``job_ids`` limits the check to those jobs; by default every unfinished
    job with a flow run is checked, and every processing asset whose lease
    ran out is taken over and failed, so the next run of it retries it.
    """
    statement = select(col(IngestJob.id), col(IngestJob.flow_run_id)).where(
        col(IngestJob.status).in_(UNFINISHED_JOB), col(IngestJob.flow_run_id).is_not(None)
    )
    if job_ids is not None:
        statement = statement.where(col(IngestJob.id).in_(list(job_ids)))
    owners = transact(
        engine,
        lambda session: {run_id: job_id for job_id, run_id in session.execute(statement).all()},
        describe="reading the unfinished jobs",
    )
    failed: list[uuid.UUID] = []
    run_ids = list(owners)
    for start in range(0, len(run_ids), RECONCILE_CHUNK):
        chunk = run_ids[start : start + RECONCILE_CHUNK]
        runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=chunk)), limit=len(chunk)
        )
        for run in runs:
            # A run that has ended works on no job: whatever it left unfinished stays so.
            if run.state is not None and run.state.is_final():
                error = COMPLETED_UNENDED if run.state.is_completed() else describe(run.state)
                failed += fail_unfinished_jobs(
                    engine, flow_run_id=run.id, job_id=owners[run.id], error=error
                )
    if job_ids is None:
        failed += fail_abandoned_assets(engine)
    return failed


def fail_abandoned_assets(engine: Engine) -> list[uuid.UUID]:
    """Take over each processing asset whose lease ran out: fail it and its jobs; return the jobs.

    A failed asset is what a batch re-run or a new ingest of its identifier retries.
    """

    def write(session: Session) -> list[uuid.UUID]:
        processing = (
            session.execute(
                select(Asset)
                .where(col(Asset.status) == AssetStatus.PROCESSING)
                .with_for_update(skip_locked=True)
            )
            .scalars()
            .all()
        )
        failed: list[uuid.UUID] = []
        for asset in processing:
            if not lease_ran_out(asset):
                continue
            failed += take_over(session, asset, by="reconcile-jobs")
            graph.update_asset(
                session=session,
                asset=asset,
                status=AssetStatus.FAILED,
                error="its run stopped before it ended (the worker died or lost the asset "
                "store); the next batch or ingest of it retries it",
            )
        return failed

    return transact(engine, write, describe="taking over abandoned assets")

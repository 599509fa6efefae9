"""The life of a job, for ingest and reprocess alike: started, then ended with its asset.

    create_ingest_job                the pending job, written before any run exists
    start_ingest / start_reprocess   the job running, its asset processing, one transaction
    forget_source                    a signed source erased once its fetch has ended
    run_job                          do the work; end job and asset completed/ready or failed
    fail_job                         end a job that never got an asset (an identifier conflict)

A job holds the source as given only while it waits for its fetch (Prefect
gets the job id and the redacted request, never the secret); a job that ends
holds it no longer.

A failure the user can act on (a 404, a corrupt file) ends the job and the
asset failed with its sentence and comes back as a ``JobOutcome``, so a batch
goes on; anything unexpected is recorded as an internal error and re-raised.
The flows' state hooks (flows/hooks.py) end the jobs of runs that died.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from prefect.exceptions import ExternalSignal
from sqlalchemy import Engine
from sqlmodel import Session

from core.errors import IdentifierConflict, IngestError
from core.redact import redact_text
from core.requests import AssetRequest
from models import graph
from models.db import new_session
from models.tables import Asset, AssetStatus, IngestJob, JobKind, JobStatus
from tasks.filenames import safe_filename


@dataclass(frozen=True)
class JobOutcome:
    """How one job ended: the ids to look up and, when it failed, why."""

    job_id: uuid.UUID | None
    asset_id: uuid.UUID | None
    status: JobStatus
    error: str | None = None
    # On an identifier conflict: the asset that already holds the identifier.
    existing_asset_id: uuid.UUID | None = None

    @property
    def failed(self) -> bool:
        """Whether the job ended failed."""
        return self.status == JobStatus.FAILED


@dataclass(frozen=True)
class StartedJob:
    """A job now running, and the asset it works on."""

    job_id: uuid.UUID
    asset_id: uuid.UUID


def internal_error(exc: BaseException) -> str:
    """Say what an unexpected failure was, for the job's and the asset's error, redacted."""
    return redact_text(f"internal error: {type(exc).__name__}: {exc}")


def new_ingest_job(
    session: Session,
    request: AssetRequest,
    *,
    idempotency_key: str | None = None,
    flow_run_id: uuid.UUID | None = None,
) -> tuple[IngestJob, bool]:
    """Add the pending job of an ingest to the caller's transaction; return it and if it is new.

    The job records the request redacted; a source that redaction changed (a
    signed URL) waits in ``secret_source`` for its fetch. A known
    ``idempotency_key`` returns that key's job and adds nothing.
    """
    redacted = request.redacted()
    return graph.create_job(
        session=session,
        kind=JobKind.INGEST,
        input=redacted.model_dump(mode="json"),
        idempotency_key=idempotency_key,
        secret_source=request.source if request.source != redacted.source else None,
        flow_run_id=flow_run_id,
    )


def create_ingest_job(
    engine: Engine, request: AssetRequest, *, idempotency_key: str | None = None
) -> IngestJob:
    """Write the job of an ingest, before any run exists; the same key returns the same job.

    Submission then hands Prefect only the job's id and redacted request:
    ``deployments.submit.start_ingest_run(engine, job.id)``.
    """
    with new_session(engine) as session:
        job, _ = new_ingest_job(session, request, idempotency_key=idempotency_key)
        session.commit()
        return job


def start_ingest(
    engine: Engine, job_id: uuid.UUID, *, flow_run_id: uuid.UUID | None
) -> tuple[StartedJob, AssetRequest]:
    """Take up the job and create its asset, in one transaction; return them and the request.

    The request is read from the job, its source as given. An asset whose
    earlier ingest failed is taken up again under its identifier (a re-run
    retries it, with the request's source and fields); a ready or processing
    one raises ``IdentifierConflict`` and nothing is written.
    """
    with new_session(engine) as session:
        job = session.get_one(IngestJob, job_id)
        request = AssetRequest.model_validate(
            job.input | ({"source": job.secret_source} if job.secret_source else {})
        )
        fields: dict[str, Any] = {
            "source": request.redacted().source,
            "original_filename": safe_filename(request.filename),
            **request.asset_fields(),
        }
        project = graph.ensure_project(session=session, name=request.project)
        try:
            asset = graph.create_asset(
                session=session, project=project, identifier=request.asset_identifier, **fields
            )
        except IdentifierConflict as conflict:
            if conflict.existing_id is None:
                raise
            # Locked so two runs retrying the same failed asset cannot both take it up.
            asset = session.get_one(
                Asset, conflict.existing_id, with_for_update=True, populate_existing=True
            )
            if asset.status != AssetStatus.FAILED:
                raise
            graph.update_asset(session=session, asset=asset, error=None, **fields)
        return _start(session, job, asset, flow_run_id), request


def forget_source(engine: Engine, job_id: uuid.UUID) -> None:
    """Erase the job's secret source: its fetch has ended, one way or the other."""
    with new_session(engine) as session:
        job = session.get_one(IngestJob, job_id)
        if job.secret_source is not None:
            graph.update_job(session=session, job=job, secret_source=None)
            session.commit()


def start_reprocess(
    engine: Engine, asset_id: uuid.UUID, *, recipe: dict[str, Any], flow_run_id: uuid.UUID | None
) -> StartedJob | None:
    """Create a running reprocess job on the asset; None when there is no such asset."""
    with new_session(engine) as session:
        asset = session.get(Asset, asset_id)
        if asset is None or asset.status == AssetStatus.DELETED:
            return None
        job, _ = graph.create_job(
            session=session,
            kind=JobKind.REPROCESS,
            input={"asset_id": str(asset_id), "recipe": recipe},
        )
        return _start(session, job, asset, flow_run_id)


def _start(
    session: Session, job: IngestJob, asset: Asset, flow_run_id: uuid.UUID | None
) -> StartedJob:
    graph.update_job(
        session=session,
        job=job,
        status=JobStatus.RUNNING,
        asset_id=asset.id,
        flow_run_id=flow_run_id,
    )
    graph.update_asset(session=session, asset=asset, status=AssetStatus.PROCESSING)
    session.commit()
    return StartedJob(job.id, asset.id)


def run_job(engine: Engine, started: StartedJob, work: Callable[[], None]) -> JobOutcome:
    """Do the job's work and end the job and its asset as it went."""
    try:
        work()
    except IngestError as exc:
        # Adapters word their errors with the source redacted; this keeps any slip out.
        error = redact_text(str(exc))
        finish_job(engine, started, error=error)
        return JobOutcome(started.job_id, started.asset_id, JobStatus.FAILED, error)
    except ExternalSignal:
        # Prefect stopping the run (a cancel, a worker shutting down): the state hooks
        # say how the run ended ("flow run cancelled: ..."), not "internal error".
        raise
    except BaseException as exc:
        finish_job(engine, started, error=internal_error(exc))
        raise
    finish_job(engine, started, error=None)
    return JobOutcome(started.job_id, started.asset_id, JobStatus.COMPLETED)


def finish_job(engine: Engine, started: StartedJob, *, error: str | None) -> None:
    """End the job and the asset: ready and processed, or failed with the error."""
    with new_session(engine) as session:
        asset = session.get_one(Asset, started.asset_id)
        job = session.get_one(IngestJob, started.job_id)
        if error is None:
            graph.update_asset(
                session=session, asset=asset, status=AssetStatus.READY, processed=True, error=None
            )
            graph.update_job(
                session=session,
                job=job,
                status=JobStatus.COMPLETED,
                progress=100,
                secret_source=None,
            )
        else:
            graph.update_asset(session=session, asset=asset, status=AssetStatus.FAILED, error=error)
            graph.update_job(
                session=session, job=job, status=JobStatus.FAILED, error=error, secret_source=None
            )
        session.commit()


def fail_job(
    engine: Engine, job_id: uuid.UUID, error: str, *, flow_run_id: uuid.UUID | None
) -> None:
    """Mark a job failed with the error by this flow run, touching no asset."""
    with new_session(engine) as session:
        job = session.get_one(IngestJob, job_id)
        graph.update_job(
            session=session,
            job=job,
            status=JobStatus.FAILED,
            error=error,
            flow_run_id=flow_run_id or job.flow_run_id,
            secret_source=None,
        )
        session.commit()

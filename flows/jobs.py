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

Every write goes through ``transact``, which rides out a database outage. A
running job holds its asset's lease (flows/lease.py): when its end cannot be
written (the database down past the outage window) the outcome still says
why, and the next run of the asset takes it over once the lease has run out.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from prefect.exceptions import ExternalSignal
from sqlalchemy import Engine
from sqlmodel import Session

from core.errors import DatabaseUnavailable, IdentifierConflict, IngestError, PermanentError
from core.redact import redact_text
from core.requests import AssetRequest
from flows.lease import keep_lease, lease_ran_out, lease_until, take_over
from models import graph
from models.db import transact
from models.tables import Asset, AssetStatus, IngestJob, JobKind, JobStatus
from tasks.filenames import safe_filename

# The key of an ingest job's input that names the drop folder its item came from.
DROP_FOLDER_KEY = "drop_folder_id"


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
    # How long the job's lease on its asset lasts unless renewed (Settings.lease_s).
    lease_s: float


def internal_error(exc: BaseException) -> str:
    """Say what an unexpected failure was, for the job's and the asset's error, redacted."""
    return redact_text(f"internal error: {type(exc).__name__}: {exc}")


def new_ingest_job(
    session: Session,
    request: AssetRequest,
    *,
    idempotency_key: str | None = None,
    flow_run_id: uuid.UUID | None = None,
    asset: Asset | None = None,
    drop_folder_id: uuid.UUID | None = None,
) -> tuple[IngestJob, bool]:
    """Add the pending job of an ingest to the caller's transaction; return it and if it is new.

    The job records the request redacted; a source that redaction changed (a
    signed URL) waits in ``secret_source`` for its fetch. A known
    ``idempotency_key`` returns that key's job and adds nothing. ``asset`` is
    one made for this job (by the API, with fields a request does not carry):
    the run takes it up instead of making one. ``drop_folder_id`` is recorded
    on the asset the run makes.
    """
    redacted = request.redacted()
    extra = {DROP_FOLDER_KEY: str(drop_folder_id)} if drop_folder_id else {}
    return graph.create_job(
        session=session,
        kind=JobKind.INGEST,
        input=redacted.model_dump(mode="json") | extra,
        idempotency_key=idempotency_key,
        secret_source=request.source if request.source != redacted.source else None,
        flow_run_id=flow_run_id,
        asset_id=asset.id if asset else None,
    )


def create_ingest_job(
    engine: Engine, request: AssetRequest, *, idempotency_key: str | None = None
) -> IngestJob:
    """Write the job of an ingest, before any run exists; the same key returns the same job.

    Submission then hands Prefect only the job's id and redacted request:
    ``deployments.submit.start_ingest_run(engine, job.id)``.
    """

    def write(session: Session) -> IngestJob:
        job, _ = new_ingest_job(session, request, idempotency_key=idempotency_key)
        return job

    return transact(engine, write, describe="writing the ingest job")


def start_ingest(
    engine: Engine, job_id: uuid.UUID, *, flow_run_id: uuid.UUID | None, lease_s: float
) -> tuple[StartedJob, AssetRequest]:
    """Take up the job and create its asset, in one transaction; return them and the request.

    The request is read from the job, its source as given. An asset whose
    earlier ingest failed, or whose run died (its lease ran out), is taken up
    again under its identifier (a re-run retries it, with the request's source
    and fields); a ready one, or one processing under a live lease, raises
    ``IdentifierConflict`` and nothing is written.
    """
    return transact(
        engine,
        lambda session: _start_ingest(session, job_id, flow_run_id, lease_s),
        describe=f"starting job {job_id}",
    )


def _start_ingest(
    session: Session, job_id: uuid.UUID, flow_run_id: uuid.UUID | None, lease_s: float
) -> tuple[StartedJob, AssetRequest]:
    job = session.get_one(IngestJob, job_id)
    request = AssetRequest.model_validate(
        job.input | ({"source": job.secret_source} if job.secret_source else {})
    )
    if job.asset_id is not None:  # made with the job: its fields are set already
        asset = _take_up(session, job, job.asset_id, startable=AssetStatus.PENDING)
        if asset is None:
            raise IdentifierConflict(
                f"asset {job.asset_id} was taken up by another run", existing_id=job.asset_id
            )
        return _start(session, job, asset, flow_run_id, lease_s), request
    drop_folder = job.input.get(DROP_FOLDER_KEY)
    fields: dict[str, Any] = {
        "source": request.redacted().source,
        "original_filename": safe_filename(request.filename),
        **request.asset_fields(),
    }
    project = graph.ensure_project(session=session, name=request.project)
    try:
        asset = graph.create_asset(
            session=session,
            project=project,
            identifier=request.asset_identifier,
            drop_folder_id=uuid.UUID(drop_folder) if drop_folder else None,
            **fields,
        )
    except IdentifierConflict as conflict:
        if conflict.existing_id is None:
            raise
        asset = _take_up(session, job, conflict.existing_id, startable=AssetStatus.FAILED)
        if asset is None:
            raise
        graph.update_asset(session=session, asset=asset, error=None, **fields)
    return _start(session, job, asset, flow_run_id, lease_s), request


def _take_up(
    session: Session, job: IngestJob, asset_id: uuid.UUID, *, startable: AssetStatus
) -> Asset | None:
    """Lock an existing asset for the job; None when it may not start.

    It may when its status is ``startable`` or failed, or when the run that had
    it died (its lease ran out). Locked so two runs cannot both take it up.
    """
    asset = session.get_one(Asset, asset_id, with_for_update=True, populate_existing=True)
    if lease_ran_out(asset):
        take_over(session, asset, by=f"job {job.id}")
    elif asset.status not in (startable, AssetStatus.FAILED):
        return None
    return asset


def forget_source(engine: Engine, job_id: uuid.UUID) -> None:
    """Erase the job's secret source: its fetch has ended, one way or the other."""

    def write(session: Session) -> None:
        job = session.get_one(IngestJob, job_id)
        if job.secret_source is not None:
            graph.update_job(session=session, job=job, secret_source=None)

    transact(engine, write, describe=f"erasing the source of job {job_id}")


def start_reprocess(
    engine: Engine,
    asset_id: uuid.UUID,
    *,
    recipe: dict[str, Any],
    flow_run_id: uuid.UUID | None,
    lease_s: float,
) -> StartedJob | None:
    """Create a running reprocess job on the asset; None when there is no such asset.

    An asset whose run died (its lease ran out) is taken over; one that another
    run is processing raises ``PermanentError`` and nothing is written.
    """

    def write(session: Session) -> StartedJob | None:
        asset = session.get(Asset, asset_id, with_for_update=True, populate_existing=True)
        if asset is None or asset.status == AssetStatus.DELETED:
            return None
        if asset.status == AssetStatus.PROCESSING:
            if not lease_ran_out(asset):
                raise PermanentError(
                    f"asset {asset_id} is being processed by another run "
                    f"(its lease runs until {asset.lease_expires_at:%H:%M:%S} UTC)"
                )
            take_over(session, asset, by="a reprocess")
        job, _ = graph.create_job(
            session=session,
            kind=JobKind.REPROCESS,
            input={"asset_id": str(asset_id), "recipe": recipe},
        )
        return _start(session, job, asset, flow_run_id, lease_s)

    return transact(engine, write, describe=f"starting a reprocess of asset {asset_id}")


def _start(
    session: Session,
    job: IngestJob,
    asset: Asset,
    flow_run_id: uuid.UUID | None,
    lease_s: float,
) -> StartedJob:
    graph.update_job(
        session=session,
        job=job,
        status=JobStatus.RUNNING,
        asset_id=asset.id,
        flow_run_id=flow_run_id,
    )
    graph.update_asset(session=session, asset=asset, status=AssetStatus.PROCESSING)
    # Not through update_asset: a lease renewal is not a change worth an event.
    asset.lease_expires_at = lease_until(lease_s)
    session.add(asset)
    session.flush()
    return StartedJob(job.id, asset.id, lease_s)


def run_job(engine: Engine, started: StartedJob, work: Callable[[], None]) -> JobOutcome:
    """Do the job's work, renewing its lease, and end the job and its asset as it went.

    When the end cannot be written because the database stayed down past the
    outage window, the outcome is failed with that sentence; the job's run has
    ended, so its lease runs out and the next run of the asset takes it over.
    """
    error: str | None = None
    try:
        with keep_lease(engine, started.asset_id, started.lease_s):
            work()
    except DatabaseUnavailable as exc:
        # Already ridden out for the window: writing the end would wait as long again.
        return JobOutcome(started.job_id, started.asset_id, JobStatus.FAILED, str(exc))
    except IngestError as exc:
        # Adapters word their errors with the source redacted; this keeps any slip out.
        error = redact_text(str(exc))
    except ExternalSignal:
        # Prefect stopping the run (a cancel, a worker shutting down): the state hooks
        # say how the run ended ("flow run cancelled: ..."), not "internal error".
        raise
    except BaseException as exc:
        _finish_if_reachable(engine, started, internal_error(exc))
        raise
    try:
        finish_job(engine, started, error=error)
    except DatabaseUnavailable as exc:
        return JobOutcome(started.job_id, started.asset_id, JobStatus.FAILED, str(exc))
    status = JobStatus.FAILED if error is not None else JobStatus.COMPLETED
    return JobOutcome(started.job_id, started.asset_id, status, error)


def _finish_if_reachable(engine: Engine, started: StartedJob, error: str) -> None:
    """Record an unexpected failure if the database answers; the lease covers it if not."""
    with contextlib.suppress(DatabaseUnavailable):
        finish_job(engine, started, error=error)


def finish_job(engine: Engine, started: StartedJob, *, error: str | None) -> None:
    """End the job and the asset: ready and processed, or failed with the error.

    A job that is no longer running was taken over (its lease ran out while the
    database was down): its asset is the new run's, and is left alone.
    """
    transact(
        engine,
        lambda session: _finish(session, started, error),
        describe=f"ending job {started.job_id}",
    )


def _finish(session: Session, started: StartedJob, error: str | None) -> None:
    job = session.get_one(IngestJob, started.job_id, with_for_update=True)
    if job.status != JobStatus.RUNNING:
        return
    asset = session.get_one(Asset, started.asset_id)
    asset.lease_expires_at = None
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


def fail_job(
    engine: Engine, job_id: uuid.UUID, error: str, *, flow_run_id: uuid.UUID | None
) -> None:
    """Mark a job failed with the error by this flow run, touching no asset."""

    def write(session: Session) -> None:
        job = session.get_one(IngestJob, job_id)
        graph.update_job(
            session=session,
            job=job,
            status=JobStatus.FAILED,
            error=error,
            flow_run_id=flow_run_id or job.flow_run_id,
            secret_source=None,
        )

    transact(engine, write, describe=f"failing job {job_id}")

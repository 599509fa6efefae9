"""Who runs the ingest-asset flow for a job the API created.

    PrefectRunner    PREFECT_API_URL set: the run goes to the deployment's workers
    EmbeddedRunner   nothing configured: the flow runs in this process, a bounded
                     pool of threads, and jobs left pending by a previous process
                     are taken up again at start

Either way the same flow runs with the job's id; the API never runs a
second pipeline.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from sqlalchemy import Engine
from sqlmodel import col, select

from core.errors import PermanentError, TransientError
from core.requests import AssetRequest
from core.settings import Settings
from models.db import new_session
from models.tables import IngestJob, JobKind, JobStatus

logger = logging.getLogger("assetflow.api")


class RunnerUnavailable(Exception):
    """The job was written but its run could not be started; a retry may start it."""


class IngestRunner(Protocol):
    """Start the ingest-asset flow for jobs the API has written."""

    def start(self, job_id: uuid.UUID) -> None:
        """Start the job's run, once; raise ``RunnerUnavailable`` when it cannot start."""

    def recover(self) -> int:
        """Start the runs of jobs a previous process left pending; return how many."""

    def refresh(self, job_id: uuid.UUID) -> None:
        """Bring an unfinished job up to date with its run, where the run is elsewhere."""

    def close(self) -> None:
        """Stop taking work."""


class PrefectRunner:
    """Runs go to the ingest deployment on the Prefect server (PREFECT_API_URL)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def start(self, job_id: uuid.UUID) -> None:
        """Create the job's flow run on the deployment (idempotent: one run per job)."""
        from deployments.submit import start_ingest_run

        try:
            start_ingest_run(self._engine, job_id)
        except (TransientError, PermanentError) as exc:
            raise RunnerUnavailable(str(exc)) from exc

    def recover(self) -> int:
        """Nothing to do: the workers own the runs."""
        return 0

    def refresh(self, job_id: uuid.UUID) -> None:
        """Fail the job if its flow run ended without ending it (a worker killed)."""
        from deployments.job_status import read_job

        read_job(self._engine, job_id)

    def close(self) -> None:
        """Nothing to stop."""


class EmbeddedRunner:
    """Runs the flow in this process, ``workers`` at a time; the rest wait in the pool's queue."""

    def __init__(self, engine: Engine, settings: Settings, *, workers: int) -> None:
        self._engine = engine
        self._settings = settings
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="assetflow-ingest")
        self._prepared = threading.Lock()
        self._ready = False
        # Prefect keeps its settings (a profile, a test harness's server) in context
        # variables, which new threads do not inherit: runs get this thread's.
        self._context = contextvars.copy_context()

    def start(self, job_id: uuid.UUID) -> None:
        """Queue the job's run."""
        try:
            self._pool.submit(self._context.copy().run, self._run, job_id)
        except RuntimeError as exc:  # the pool is shut down: the app is stopping
            raise RunnerUnavailable("the server is shutting down; try again") from exc

    def recover(self) -> int:
        """Queue every ingest job still pending without a flow run, oldest first."""
        with new_session(self._engine) as session:
            job_ids = session.exec(
                select(IngestJob.id)
                .where(
                    IngestJob.status == JobStatus.PENDING,
                    IngestJob.kind == JobKind.INGEST,
                    col(IngestJob.flow_run_id).is_(None),
                )
                .order_by(col(IngestJob.created_at))
            ).all()
        for job_id in job_ids:
            self.start(job_id)
        if job_ids:
            logger.info("taking up %d pending ingest jobs", len(job_ids))
        return len(job_ids)

    def refresh(self, job_id: uuid.UUID) -> None:
        """Nothing to do: this process's runs end their jobs, or its hooks do."""

    def close(self) -> None:
        """Drop queued runs; those under way end with the process (their jobs fail then)."""
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _prepare(self) -> None:
        # Once per process, in a pool thread: loads Prefect, creates the transcode limit.
        with self._prepared:
            if not self._ready:
                from flows.derive_video import ensure_transcode_limit

                ensure_transcode_limit(self._settings)
                self._ready = True

    def _run(self, job_id: uuid.UUID) -> None:
        try:
            self._prepare()
            from flows.ingest import ingest_asset

            with new_session(self._engine) as session:
                job = session.get_one(IngestJob, job_id)
            # The job's request is stored redacted; the flow reads the source from the job.
            ingest_asset(
                AssetRequest.model_validate(job.input), job_id=str(job_id), return_state=True
            )
        except Exception:
            # The flow ended the job itself where it could; this is for the log.
            logger.exception("the ingest run of job %s failed", job_id)

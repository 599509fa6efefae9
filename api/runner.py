"""Who runs the ingest-asset flow for a job the API created.

    PrefectRunner    PREFECT_API_URL set: a few threads create each job's flow run
                     on the deployment, for its workers to run
    EmbeddedRunner   nothing configured: the flow runs in this process, a bounded
                     pool of threads

Either way the API answers once the job row is written; the run is started
from a queue in this process, so accepting a task never waits for Prefect.
At start each takes up the jobs still pending without a run (a server that
stopped before starting them). Starting a run is idempotent on Prefect (its
idempotency key is the job's id), so several API processes may do so at once.
The same flow runs with the job's id either way: the API never runs a second
pipeline.
"""

from __future__ import annotations

import contextvars
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from sqlalchemy import Engine
from sqlmodel import col, select

from core.errors import PermanentError, TransientError
from core.logs import get_logger
from core.requests import AssetRequest
from core.settings import Settings
from models.db import new_session
from models.tables import IngestJob, JobKind, JobStatus
from tasks.retrying import RetryPolicy

logger = get_logger("api")

# Threads creating flow runs on the Prefect server: a creation is a few round trips.
DISPATCHERS = 4
# Tries to create a run while the Prefect API is unreachable (about a minute); a
# job still without one stays pending and is taken up at the next start.
DISPATCH_ATTEMPTS = 6
DISPATCH_BASE_DELAY_S = 1.0
DISPATCH_MAX_DELAY_S = 30.0


class RunnerUnavailable(Exception):
    """The job was written but its run cannot be queued; a retry may start it."""


class IngestRunner(Protocol):
    """Start the ingest-asset flow for jobs the API has written."""

    def start(self, job_id: uuid.UUID) -> None:
        """Queue the job's run, once; raise ``RunnerUnavailable`` when it cannot be queued."""

    def recover(self) -> int:
        """Queue the runs of jobs a previous process left pending; return how many."""

    def refresh(self, job_id: uuid.UUID) -> None:
        """Bring an unfinished job up to date with its run, where the run is elsewhere."""

    def close(self) -> None:
        """Stop taking work."""


class _Stopping(Exception):
    """The pool is closing: work waiting to try again gives up."""


class _JobPool:
    """Threads that take job ids from a queue and do ``_work`` on each, a job once at a time."""

    # Whether closing waits for the work under way (short) or leaves it to end with
    # the process (an ingest may take minutes).
    _wait_on_close = False

    def __init__(self, engine: Engine, *, workers: int, name: str) -> None:
        self._engine = engine
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
        # Prefect keeps its settings (a profile, a test harness's server) in context
        # variables, which new threads do not inherit: the work gets this thread's.
        self._context = contextvars.copy_context()
        self._queued: set[uuid.UUID] = set()
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    def start(self, job_id: uuid.UUID) -> None:
        """Queue the job, unless it is queued or under way already."""
        with self._lock:
            if job_id in self._queued:
                return
            self._queued.add(job_id)
        try:
            self._pool.submit(self._context.copy().run, self._guarded, job_id)
        except RuntimeError as exc:  # the pool is shut down: the app is stopping
            raise RunnerUnavailable("the server is shutting down; try again") from exc

    def _pause(self, seconds: float) -> None:
        """Wait before trying again, unless the pool closes meanwhile."""
        if self._stopping.wait(seconds):
            raise _Stopping

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

    def close(self) -> None:
        """Drop queued work and stop retries; see ``_wait_on_close`` for work under way."""
        self._stopping.set()
        self._pool.shutdown(wait=self._wait_on_close, cancel_futures=True)

    def _guarded(self, job_id: uuid.UUID) -> None:
        try:
            self._work(job_id)
        except _Stopping:
            logger.info("job %s left pending: the server is stopping", job_id)
        except Exception:
            # Where it could, the flow or the dispatch ended the job itself; this is for the log.
            logger.exception("the ingest run of job %s failed", job_id)
        finally:
            with self._lock:
                self._queued.discard(job_id)

    def _work(self, job_id: uuid.UUID) -> None:
        raise NotImplementedError


class PrefectRunner(_JobPool):
    """Runs go to the ingest deployment on the Prefect server (PREFECT_API_URL)."""

    _wait_on_close = True  # a run being created: a few requests, retries stopped

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine, workers=DISPATCHERS, name="assetflow-dispatch")

    def refresh(self, job_id: uuid.UUID) -> None:
        """Fail the job if its flow run ended without ending it (a worker killed)."""
        from deployments.job_status import read_job

        read_job(self._engine, job_id)

    def _work(self, job_id: uuid.UUID) -> None:
        """Create the job's flow run on the deployment; a missing deployment fails the job."""
        from deployments.submit import start_ingest_run
        from flows.jobs import fail_job

        retries = RetryPolicy(
            attempts=DISPATCH_ATTEMPTS,
            base_delay_s=DISPATCH_BASE_DELAY_S,
            max_delay_s=DISPATCH_MAX_DELAY_S,
            sleep=self._pause,
        )
        try:
            retries.call(
                lambda: start_ingest_run(self._engine, job_id),
                describe=f"starting the run of job {job_id}",
                logger=logger,
            )
        except PermanentError as exc:
            fail_job(self._engine, job_id, str(exc), flow_run_id=None)
        except TransientError as exc:
            logger.error("job %s stays pending, its run not started: %s", job_id, exc)


class EmbeddedRunner(_JobPool):
    """Runs the flow in this process, ``workers`` at a time; the rest wait in the queue."""

    def __init__(self, engine: Engine, settings: Settings, *, workers: int) -> None:
        super().__init__(engine, workers=workers, name="assetflow-ingest")
        self._settings = settings
        self._prepared = threading.Lock()
        self._ready = False

    def refresh(self, job_id: uuid.UUID) -> None:
        """Nothing to do: this process's runs end their jobs, or their hooks do."""

    def _prepare(self) -> None:
        # Once per process, in a pool thread: loads Prefect, creates the transcode limit.
        with self._prepared:
            if not self._ready:
                from flows.derive_video import ensure_transcode_limit

                ensure_transcode_limit(self._settings)
                self._ready = True

    def _work(self, job_id: uuid.UUID) -> None:
        self._prepare()
        from flows.ingest import ingest_asset

        with new_session(self._engine) as session:
            job = session.get_one(IngestJob, job_id)
        # The job's request is stored redacted; the flow reads the source from the job.
        ingest_asset(AssetRequest.model_validate(job.input), job_id=str(job_id), return_state=True)

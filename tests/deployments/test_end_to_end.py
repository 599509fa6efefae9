"""End to end: a real Prefect server, ``assetflow serve``, SeaweedFS S3 and PostgreSQL.

The tests run in order: the last one kills the service.
"""

from __future__ import annotations

import contextvars
import hashlib
import io
import json
import re
import signal
import subprocess
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil
import pytest
from prefect import get_client
from prefect.client.schemas.actions import DeploymentScheduleCreate
from prefect.client.schemas.filters import (
    DeploymentFilter,
    DeploymentFilterId,
    FlowRunFilter,
    FlowRunFilterState,
    FlowRunFilterStateType,
    LogFilter,
    LogFilterFlowRunId,
)
from prefect.client.schemas.objects import StateType
from prefect.client.schemas.schedules import IntervalSchedule
from prefect.client.schemas.sorting import FlowRunSort
from prefect.states import Cancelling, Crashed, Scheduled
from sqlalchemy import func, select
from sqlmodel import Session

from core.requests import AssetRequest
from core.settings import Settings
from deployments.job_status import JobView, get_job
from deployments.submit import submit_ingest
from flows.jobs import create_ingest_job
from models import graph
from models.db import make_engine, new_session
from models.tables import Asset, AssetStatus, Blob, File, IngestJob, JobStatus
from storage.keys import content_key
from tests.deployments.conftest import ASSETFLOW, CRASH_AFTER_SILENT_S, Service, wait_until
from tests.fixtures.http_server import LocalHTTPServer, ServeFile, Stall, Status
from tests.fixtures.prefect_server import PrefectServer
from tests.fixtures.seaweed import S3Server

# A flow run's process takes 5-30 s to start on this 2-core machine, depending on load.
RUN_TIMEOUT_S = 120.0


@pytest.fixture
def session(service_settings: Settings) -> Iterator[Session]:
    engine = make_engine(service_settings.database_url)
    with new_session(engine) as session:
        yield session
    engine.dispose()


def _document(tmp_path: Path, body: bytes) -> Path:
    path = tmp_path / "doc.txt"
    path.write_bytes(body)
    return path


def _count(session: Session, table: type, *where: object) -> int:
    statement = select(func.count()).select_from(table).where(*where)  # type: ignore[arg-type]
    return int(session.execute(statement).scalar_one())


def _runs_of_job(job_id: uuid.UUID) -> list[object]:
    """Every flow run created for the job, whatever its state."""
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(flow_run_filter=FlowRunFilter())
    return [run for run in runs if run.parameters.get("job_id") == str(job_id)]


def test_a_submitted_source_completes_and_is_recorded(
    service: Service,
    session: Session,
    http_server: LocalHTTPServer,
    s3_server: S3Server,
    service_settings: Settings,
    tmp_path: Path,
) -> None:
    body = b"minutes of the meeting\n" * 300
    url = http_server.route(
        f"/{uuid.uuid4().hex}/minutes.txt", ServeFile(_document(tmp_path, body))
    )

    job = submit_ingest(
        AssetRequest(source=url, project="e2e", title="Minutes"), wait=True, timeout_s=RUN_TIMEOUT_S
    )

    assert (job.status, job.progress, job.error) == (JobStatus.COMPLETED, 100, None), service.log()
    assert job.flow_run_id is not None and job.asset_id is not None
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(job.flow_run_id)
    assert run.state is not None and run.state.type == StateType.COMPLETED
    asset = session.get_one(Asset, job.asset_id)
    assert (asset.status, asset.title, asset.identifier) == (AssetStatus.READY, "Minutes", url)
    sha256 = hashlib.sha256(body).hexdigest()
    assert session.get_one(Blob, sha256).size == len(body)
    bucket = service_settings.storage_url.removeprefix("s3://")
    stored = s3_server.client().get_object(bucket, content_key(sha256)).read()
    assert stored == body
    assert get_job(job.id) == job


def test_the_same_idempotency_key_twice_is_one_job_and_one_run(
    service: Service, session: Session, http_server: LocalHTTPServer, tmp_path: Path
) -> None:
    url = http_server.route(
        f"/{uuid.uuid4().hex}/once.txt", ServeFile(_document(tmp_path, b"only once\n"))
    )
    key = f"cms-{uuid.uuid4().hex}"

    first = submit_ingest(AssetRequest(source=url), idempotency_key=key)
    second = submit_ingest(
        AssetRequest(source=url), idempotency_key=key, wait=True, timeout_s=RUN_TIMEOUT_S
    )

    assert second.id == first.id
    assert second.flow_run_id == first.flow_run_id
    assert second.status == JobStatus.COMPLETED, second.error
    assert len(_runs_of_job(first.id)) == 1
    assert _count(session, IngestJob, IngestJob.idempotency_key == key) == 1
    assert _count(session, Asset, Asset.identifier == url) == 1


def test_submissions_with_one_key_at_the_same_moment_are_one_job_and_one_run(
    service: Service, session: Session, http_server: LocalHTTPServer, tmp_path: Path
) -> None:
    url = http_server.route(
        f"/{uuid.uuid4().hex}/together.txt", ServeFile(_document(tmp_path, b"submitted 4x\n"))
    )
    key = f"cms-{uuid.uuid4().hex}"
    count = 4
    start = threading.Barrier(count, timeout=30)

    def submit() -> JobView:
        start.wait()  # all submit at once: a client retrying, several API workers
        return submit_ingest(AssetRequest(source=url), idempotency_key=key)

    with ThreadPoolExecutor(max_workers=count) as pool:
        jobs = [pool.submit(contextvars.copy_context().run, submit) for _ in range(count)]
        views = [job.result() for job in jobs]

    assert len({view.id for view in views}) == 1
    assert len({view.flow_run_id for view in views}) == 1 and views[0].flow_run_id is not None
    assert _count(session, IngestJob, IngestJob.idempotency_key == key) == 1
    assert len(_runs_of_job(views[0].id)) == 1
    job = wait_until(
        lambda: (view := get_job(views[0].id)).finished and view,
        timeout_s=RUN_TIMEOUT_S,
        what="the job to end",
    )
    assert job.status == JobStatus.COMPLETED, job.error  # type: ignore[attr-defined]
    assert _count(session, Asset, Asset.identifier == url) == 1


def test_a_signed_source_reaches_neither_prefect_nor_the_job_row(
    service: Service,
    session: Session,
    http_server: LocalHTTPServer,
    prefect_api: PrefectServer,
    tmp_path: Path,
) -> None:
    path = f"/{uuid.uuid4().hex}/signed.txt"
    url = http_server.route(path, ServeFile(_document(tmp_path, b"for signed eyes\n" * 40)))
    signature = uuid.uuid4().hex
    signed = f" {url}?X-Amz-Credential=AKIA{signature[:8]}&X-Amz-Signature={signature} "

    job = submit_ingest(AssetRequest(source=signed), wait=True, timeout_s=RUN_TIMEOUT_S)

    assert job.status == JobStatus.COMPLETED, (job.error, service.log())
    # The run fetched the source as given: it read it from the job row.
    assert f"X-Amz-Signature={signature}" in http_server.requests(path)[0].target
    row = session.get_one(IngestJob, job.id)
    session.refresh(row)
    assert row.secret_source is None
    assert signature not in str(row.input) and "REDACTED" in row.input["source"]
    _wait_for_log(job.flow_run_id, "ingested ")  # the run's last logs have reached the server
    assert signature.encode() not in prefect_api.database.dump()


def test_a_failed_ingest_ends_its_run_failed_with_its_sentence_tried_once(
    service: Service, session: Session, http_server: LocalHTTPServer
) -> None:
    gone = f"/{uuid.uuid4().hex}/gone.jpg"

    job = submit_ingest(
        AssetRequest(source=http_server.route(gone, Status(404))),
        wait=True,
        timeout_s=RUN_TIMEOUT_S,
    )

    assert job.status == JobStatus.FAILED and "404" in str(job.error), service.log()
    asset = session.get_one(Asset, job.asset_id)
    session.refresh(asset)
    assert job.flow_run_id is not None
    with get_client(sync_client=True) as client:
        state = client.read_flow_run(job.flow_run_id).state
    assert state is not None
    assert (state.type, state.message, asset.error) == (StateType.FAILED, job.error, job.error)
    assert len(http_server.requests(gone)) == 1  # a permanent failure is not tried again


def _wait_for_log(flow_run_id: uuid.UUID | None, text: str) -> None:
    """Return once a log line of the flow run containing ``text`` is on the server."""
    assert flow_run_id is not None
    run_logs = LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id]))

    def logged() -> bool:
        with get_client(sync_client=True) as client:
            return any(text in log.message for log in client.read_logs(log_filter=run_logs))

    wait_until(logged, timeout_s=60, what=f"the run's log line {text!r}")


def test_the_scheduled_batch_ingests_a_drop_folder_object(
    service: Service, session: Session, s3_server: S3Server, service_settings: Settings
) -> None:
    bucket = service_settings.storage_url.removeprefix("s3://")
    key = f"drop-{uuid.uuid4().hex[:8]}/report.txt"
    body = b"dropped in the folder\n" * 50
    s3_server.client().put_object(bucket, key, io.BytesIO(body), len(body))
    # What a user does in the UI: give batch-ingest a schedule on the drop folder.
    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name("batch-ingest/batch-ingest")
        # One run due in a few seconds, the next an hour later: one batch in the test.
        schedule = IntervalSchedule(
            interval=timedelta(hours=1), anchor_date=datetime.now(UTC) + timedelta(seconds=3)
        )
        created = client.create_deployment_schedules(
            deployment.id,
            [
                DeploymentScheduleCreate(
                    schedule=schedule,
                    active=True,
                    parameters={"manifest": f"s3://{bucket}/{key.split('/')[0]}/"},
                )
            ],
        )

    def ingested() -> Asset | None:
        session.expire_all()
        return session.execute(
            select(Asset).where(Asset.identifier == key, Asset.status == AssetStatus.READY)
        ).scalar_one_or_none()

    try:
        asset = wait_until(ingested, timeout_s=RUN_TIMEOUT_S, what="the scheduled batch")
    finally:
        with get_client(sync_client=True) as client:
            for schedule_row in created:
                client.delete_deployment_schedule(deployment.id, schedule_row.id)
    assert isinstance(asset, Asset)
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment.id]))
        )
    assert any(run.auto_scheduled for run in runs)
    assert session.get_one(Blob, hashlib.sha256(body).hexdigest()).size == len(body)


def _flow_run_process(service: Service, flow_run_id: uuid.UUID) -> psutil.Process | None:
    """Find the child process that executes the flow run."""
    assert service.process is not None
    for child in psutil.Process(service.process.pid).children(recursive=True):
        try:
            if child.environ().get("PREFECT__FLOW_RUN_ID") == str(flow_run_id):
                return child
        except psutil.NoSuchProcess:
            continue
    return None


def _stalled_job(http_server: LocalHTTPServer, path: str) -> uuid.UUID:
    """Submit a source that stalls and return the job once its run is blocked on it."""
    url = http_server.route(path, Stall())
    job = submit_ingest(AssetRequest(source=url))
    wait_until(
        lambda: http_server.requests(path) and get_job(job.id).status == JobStatus.RUNNING,
        timeout_s=RUN_TIMEOUT_S,
        what="the run to block on its source",
    )
    return job.id


def _job_row(session: Session, job_id: uuid.UUID) -> IngestJob:
    """Read the job's row as it is, without reconciling it with its flow run (as get_job would)."""
    session.expire_all()
    return session.get_one(IngestJob, job_id)


def test_a_run_cancelled_from_prefect_fails_its_job_through_the_cancellation_hook(
    service: Service, session: Session, http_server: LocalHTTPServer
) -> None:
    job_id = _stalled_job(http_server, f"/{uuid.uuid4().hex}/cancel-me.bin")
    flow_run_id = _job_row(session, job_id).flow_run_id
    assert flow_run_id is not None

    with get_client(sync_client=True) as client:  # the UI's "Cancel"
        client.set_flow_run_state(flow_run_id, Cancelling())

    # The row itself, not get_job, which would reconcile from the Cancelled state.
    job = wait_until(
        lambda: (row := _job_row(session, job_id)).status == JobStatus.FAILED and row,
        timeout_s=RUN_TIMEOUT_S,
        what="the cancellation hook to fail the job",
    )
    assert isinstance(job, IngestJob) and job.error is not None
    assert job.error.startswith("flow run cancelled"), job.error
    _wait_for_log(flow_run_id, f"failed job(s) {job_id}")  # the hook's own word
    asset = session.get_one(Asset, job.asset_id)
    session.refresh(asset)
    assert (asset.status, asset.error) == (AssetStatus.FAILED, job.error)
    with get_client(sync_client=True) as client:
        state = client.read_flow_run(flow_run_id).state
    assert state is not None and state.type == StateType.CANCELLED


def test_a_killed_flow_process_fails_its_job_through_the_crash_hook(
    service: Service, session: Session, http_server: LocalHTTPServer
) -> None:
    job_id = _stalled_job(http_server, f"/{uuid.uuid4().hex}/stall.bin")
    flow_run_id = _job_row(session, job_id).flow_run_id
    assert flow_run_id is not None
    process = wait_until(
        lambda: _flow_run_process(service, flow_run_id),
        timeout_s=10,
        what="the flow run's process",
    )
    assert isinstance(process, psutil.Process)

    process.send_signal(signal.SIGKILL)

    # The row itself, not get_job: reconciling from Prefect's Crashed state would
    # fail the job as well, and the hook is what is under test here.
    job = wait_until(
        lambda: (row := _job_row(session, job_id)).status == JobStatus.FAILED and row,
        timeout_s=RUN_TIMEOUT_S,
        what="the crash hook to fail the job",
    )
    assert isinstance(job, IngestJob) and job.error is not None
    assert job.error.startswith("flow run crashed: "), job.error
    assert "status code: -9" in job.error and "SIGKILL" in job.error
    _wait_for_log(flow_run_id, f"failed job(s) {job_id}")  # the hook's own word
    asset = session.get_one(Asset, job.asset_id)
    assert (asset.status, asset.error) == (AssetStatus.FAILED, job.error)


@pytest.mark.parametrize(
    ("stop", "said"),
    [("kill", r"flow run crashed: .*status code: -9"), ("cancel", r"flow run cancelled")],
)
def test_a_batch_stopped_mid_item_fails_the_items_job_through_its_own_hook(
    stop: str,
    said: str,
    service: Service,
    session: Session,
    http_server: LocalHTTPServer,
    tmp_path: Path,
) -> None:
    stalled = f"/{uuid.uuid4().hex}/stall.bin"
    manifest = tmp_path / "manifest.csv"
    # Stalled until the test ends: a cancel reaches the run only when the runner polls,
    # which on a loaded machine took longer than the default stall.
    blocker = Stall(max_s=RUN_TIMEOUT_S)
    manifest.write_text(f"source,identifier\n{http_server.route(stalled, blocker)},stalled\n")
    manifest_url = http_server.route(f"/{uuid.uuid4().hex}/manifest.csv", ServeFile(manifest))
    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name("batch-ingest/batch-ingest")
        run = client.create_flow_run_from_deployment(
            deployment.id, parameters={"manifest": manifest_url, "project": f"{stop}-batch"}
        )

    def blocked_item() -> IngestJob | None:
        session.expire_all()
        job = session.execute(
            select(IngestJob).where(IngestJob.flow_run_id == run.id)
        ).scalar_one_or_none()
        blocked = job is not None and job.status == JobStatus.RUNNING
        return job if blocked and http_server.requests(stalled) else None

    item = wait_until(blocked_item, timeout_s=RUN_TIMEOUT_S, what="the item to block on its source")
    assert isinstance(item, IngestJob)
    if stop == "kill":
        process = wait_until(
            lambda: _flow_run_process(service, run.id), timeout_s=10, what="the batch's process"
        )
        assert isinstance(process, psutil.Process)
        process.send_signal(signal.SIGKILL)
    else:
        with get_client(sync_client=True) as client:  # the UI's "Cancel"
            client.set_flow_run_state(run.id, Cancelling())

    # The row itself, not get_job, which would reconcile from Prefect's Crashed state.
    job = wait_until(
        lambda: (row := _job_row(session, item.id)).status == JobStatus.FAILED and row,
        timeout_s=RUN_TIMEOUT_S,
        what=f"the batch's {stop} hook to fail the item's job",
    )
    assert isinstance(job, IngestJob) and job.error is not None
    assert re.match(said, job.error, re.DOTALL), job.error
    _wait_for_log(run.id, f"failed job(s) {item.id}")  # the hook's own word
    asset = session.get_one(Asset, job.asset_id)
    session.refresh(asset)
    assert (asset.status, asset.error) == (AssetStatus.FAILED, job.error)


def test_the_scheduled_reconcile_run_fails_a_job_whose_run_died_unseen(
    service: Service, session: Session, service_settings: Settings
) -> None:
    # A job whose run crashed where no hook could see it (its machine switched off).
    engine = make_engine(service_settings.database_url)
    job = create_ingest_job(engine, AssetRequest(source="https://example.com/lost.jpg"))
    engine.dispose()
    with get_client(sync_client=True) as client:
        ingest = client.read_deployment_by_name("ingest-asset/ingest-asset")
        dead = client.create_flow_run_from_deployment(
            ingest.id,
            parameters={"request": job.input, "job_id": str(job.id)},
            state=Crashed(message="its machine was switched off"),
        )
    row = _job_row(session, job.id)
    graph.update_job(session=session, job=row, status=JobStatus.RUNNING, flow_run_id=dead.id)
    session.commit()
    # The deployment's next run on its own 5-minute schedule, brought forward to now.
    with get_client(sync_client=True) as client:
        reconcile = client.read_deployment_by_name("reconcile-jobs/reconcile-jobs")
        [scheduled] = client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[reconcile.id])),
            flow_run_filter=FlowRunFilter(
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.SCHEDULED]))
            ),
            sort=FlowRunSort.EXPECTED_START_TIME_ASC,
            limit=1,
        )
        assert scheduled.auto_scheduled
        client.set_flow_run_state(
            scheduled.id, Scheduled(scheduled_time=datetime.now(UTC)), force=True
        )

    failed = wait_until(
        lambda: (row := _job_row(session, job.id)).status == JobStatus.FAILED and row,
        timeout_s=RUN_TIMEOUT_S,
        what="the reconcile-jobs run to fail the job",
    )
    assert failed.error == "flow run crashed: its machine was switched off"  # type: ignore[attr-defined]
    _wait_for_log(scheduled.id, str(job.id))  # the reconcile run's word


def test_submit_on_the_command_line_waits_and_exits_1_when_the_job_failed(
    service: Service, http_server: LocalHTTPServer, tmp_path: Path
) -> None:
    gone = http_server.route(f"/{uuid.uuid4().hex}/gone.txt", Status(404))

    failed = subprocess.run(
        [str(ASSETFLOW), "submit", gone, "--project", "cli", "--wait"],
        cwd=tmp_path,
        env=service.env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S * 2,
    )

    assert failed.returncode == 1, failed.stderr
    job = json.loads(failed.stdout)
    assert job["status"] == "failed" and f"{gone} answered 404" in job["error"], job
    assert job["flow_run_id"] is not None and get_job(uuid.UUID(job["id"])).error == job["error"]


def test_a_killed_service_fails_the_job_and_a_rerun_completes_it(
    service: Service, session: Session, http_server: LocalHTTPServer, tmp_path: Path
) -> None:
    path = f"/{uuid.uuid4().hex}/slow.txt"
    job_id = _stalled_job(http_server, path)

    service.kill()  # the service and its flow run: no process is left to report

    failed = wait_until(
        lambda: (view := get_job(job_id)).status == JobStatus.FAILED and view,
        timeout_s=CRASH_AFTER_SILENT_S + 30,
        what="crash detection to fail the job",
    )
    assert "flow run crashed: no heartbeat" in failed.error  # type: ignore[attr-defined]

    body = b"finally here\n" * 100
    http_server.route(path, ServeFile(_document(tmp_path, body)))
    service.start()
    flow_run_id = failed.flow_run_id  # type: ignore[attr-defined]
    with get_client(sync_client=True) as client:  # the UI's "Retry"
        client.set_flow_run_state(flow_run_id, Scheduled(), force=True)

    def rerun_ended() -> bool:
        with get_client(sync_client=True) as client:
            state = client.read_flow_run(flow_run_id).state
        return state is not None and state.is_final()

    wait_until(rerun_ended, timeout_s=RUN_TIMEOUT_S, what="the re-run to end")
    done = get_job(job_id)
    assert done.status == JobStatus.COMPLETED, done.error
    assert done.asset_id == failed.asset_id  # type: ignore[attr-defined]
    url = http_server.url(path)
    assert _count(session, Asset, Asset.identifier == url) == 1
    sha256 = hashlib.sha256(body).hexdigest()
    assert _count(session, Blob, Blob.sha256 == sha256) == 1
    assert _count(session, File, File.sha256 == sha256) == 1
    assert len(_runs_of_job(job_id)) == 1

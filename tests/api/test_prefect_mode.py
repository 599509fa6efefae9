"""With a Prefect server configured, tasks become flow runs of the ingest deployment, once each."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import httpx
import pytest
from prefect import get_client
from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName

from api.app import create_app, prefect_runner
from api.keys import Scope, create_key
from core.requests import AssetRequest
from core.settings import Settings
from deployments.serve import deploy_to_pool
from flows.jobs import create_ingest_job
from models.db import make_engine, new_session
from models.tables import IngestJob
from tests.api.conftest import native_id, serve_app
from tests.fixtures.pipeline import export_settings

RUN_TIMEOUT_S = 60.0


def _ingest_runs() -> int:
    with get_client(sync_client=True) as client:
        return client.count_flow_runs(
            deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=["ingest-asset"]))
        )


def _flow_run_of(database_url: str, job_id: uuid.UUID) -> uuid.UUID:
    engine = make_engine(database_url)
    deadline = time.monotonic() + RUN_TIMEOUT_S
    try:
        while time.monotonic() < deadline:
            with new_session(engine) as session:
                run = session.get_one(IngestJob, job_id).flow_run_id
            if run is not None:
                return run
            time.sleep(0.1)  # the dispatch threads record the run; nothing to await here
    finally:
        engine.dispose()
    raise AssertionError(f"job {job_id} got no flow run")


def test_tasks_and_left_over_jobs_become_one_flow_run_each(
    prefect_server: None, sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(database_url=sqlite_url, storage_url=f"file://{tmp_path / 'objects'}")
    export_settings(monkeypatch, settings)
    deploy_to_pool(settings)
    engine = make_engine(sqlite_url)
    with new_session(engine) as session:
        key = create_key(session=session, name="t", scopes=[Scope.ASSETS]).key
        session.commit()
    left = create_ingest_job(engine, AssetRequest(source="https://example.com/left.jpg"))
    engine.dispose()
    runs_before = _ingest_runs()

    # Two API processes start at once: both take up the left-over job.
    servers = [serve_app(create_app(settings, runner=prefect_runner)) for _ in range(2)]
    try:
        port = servers[0][2]
        headers = {"X-API-KEY": key, "Idempotency-Key": "cms-7"}
        body = {"url": "https://example.com/a.jpg?X-Amz-Signature=s3cr3t"}
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers) as client:
            first = client.post("/tasks", json=body)
            again = client.post("/tasks", json=body)
        task_id = uuid.UUID(native_id(first.json()["data"]["id"]))
        task_run = _flow_run_of(sqlite_url, task_id)
        left_run = _flow_run_of(sqlite_url, left.id)
    finally:
        for server, thread, _ in servers:
            server.should_exit = True
            thread.join(timeout=30)

    assert first.status_code == 201 and again.json()["data"] == first.json()["data"]
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(task_run)
    assert run.parameters["job_id"] == str(task_id)
    assert "s3cr3t" not in str(run.parameters)
    assert task_run != left_run
    assert _ingest_runs() - runs_before == 2

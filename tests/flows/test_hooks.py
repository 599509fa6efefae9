"""A job follows its flow run: state hooks fail it when the run crashes or fails in-process."""

from __future__ import annotations

import uuid

import pytest
from prefect import flow
from sqlmodel import Session

from core.settings import Settings
from flows.hooks import job_follows_run
from flows.ingest import ingest_asset
from models import graph
from models.db import make_engine, new_session
from models.tables import Asset, AssetStatus, IngestJob, JobKind, JobStatus


class Killed(BaseException):
    """What a process sees when it is interrupted: not an error the flow can handle."""


def _job_with_asset(settings: Settings, *, status: JobStatus) -> tuple[uuid.UUID, uuid.UUID]:
    engine = make_engine(settings.database_url)
    with new_session(engine) as session:
        project = graph.ensure_project(session=session, name="hooks")
        asset = graph.create_asset(
            session=session, project=project, identifier=uuid.uuid4().hex, source="test"
        )
        graph.update_asset(session=session, asset=asset, status=AssetStatus.PROCESSING)
        job, _ = graph.create_job(session=session, kind=JobKind.INGEST, input={})
        graph.update_job(session=session, job=job, status=status, asset_id=asset.id)
        session.commit()
        ids = job.id, asset.id
    engine.dispose()
    return ids


@flow(on_crashed=[job_follows_run], on_failure=[job_follows_run])
def interrupted(job_id: uuid.UUID) -> None:
    raise Killed("the process was told to stop")


@flow(on_crashed=[job_follows_run], on_failure=[job_follows_run])
def failing(job_id: uuid.UUID) -> None:
    raise RuntimeError("boom")


def _read(settings: Settings, job_id: uuid.UUID, asset_id: uuid.UUID) -> tuple[IngestJob, Asset]:
    engine = make_engine(settings.database_url)
    with Session(engine) as session:
        rows = session.get_one(IngestJob, job_id), session.get_one(Asset, asset_id)
    engine.dispose()
    return rows


def test_a_crashed_run_fails_its_job_and_asset(pipeline_settings: Settings) -> None:
    job_id, asset_id = _job_with_asset(pipeline_settings, status=JobStatus.RUNNING)

    with pytest.raises(Killed):
        interrupted(job_id)

    job, asset = _read(pipeline_settings, job_id, asset_id)
    assert job.status == JobStatus.FAILED
    assert job.error is not None and job.error.startswith("flow run crashed: "), job.error
    assert "Killed" in job.error
    assert (asset.status, asset.error) == (AssetStatus.FAILED, job.error)


def test_a_failed_run_fails_its_job_but_leaves_a_ready_asset(pipeline_settings: Settings) -> None:
    job_id, asset_id = _job_with_asset(pipeline_settings, status=JobStatus.PENDING)
    engine = make_engine(pipeline_settings.database_url)
    with new_session(engine) as session:
        graph.update_asset(
            session=session, asset=session.get_one(Asset, asset_id), status=AssetStatus.READY
        )
        session.commit()
    engine.dispose()

    with pytest.raises(RuntimeError):
        failing(job_id)

    job, asset = _read(pipeline_settings, job_id, asset_id)
    assert (job.status, job.error) == (
        JobStatus.FAILED,
        "flow run failed: Flow run encountered an exception: RuntimeError: boom",
    )
    assert (asset.status, asset.error) == (AssetStatus.READY, None)


def test_a_finished_job_is_left_as_it_ended(pipeline_settings: Settings) -> None:
    job_id, asset_id = _job_with_asset(pipeline_settings, status=JobStatus.COMPLETED)

    with pytest.raises(RuntimeError):
        failing(job_id)

    job, _ = _read(pipeline_settings, job_id, asset_id)
    assert (job.status, job.error) == (JobStatus.COMPLETED, None)


def test_the_ingest_flow_declares_the_hooks() -> None:
    assert ingest_asset.on_crashed_hooks == [job_follows_run]
    assert ingest_asset.on_failure_hooks == [job_follows_run]
    assert ingest_asset.on_cancellation_hooks == [job_follows_run]

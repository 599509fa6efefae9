"""The ingest flow end to end: a real HTTP source, the S3 server, each database."""

from __future__ import annotations

import contextvars
import hashlib
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from prefect import get_client
from prefect.client.schemas.objects import State, StateType
from sqlalchemy import func, select
from sqlmodel import Session

from core.requests import AssetRequest
from core.settings import Settings
from flows.ingest import ingest
from flows.recipes import RecipeOptions
from models.tables import (
    ORIGINAL,
    Asset,
    AssetKind,
    AssetStatus,
    Blob,
    Event,
    File,
    FileSet,
    FileStatus,
    Format,
    IngestJob,
    JobStatus,
)
from storage.keys import content_key
from tests.fixtures.database import dump_rows
from tests.fixtures.http_server import LocalHTTPServer, ServeFile, Status, Together
from tests.fixtures.images import save_jpeg, scene
from tests.fixtures.seaweed import S3Server


def _document(directory: Path, name: str, body: bytes) -> Path:
    path = directory / name
    path.write_bytes(body)
    return path


def _count(session: Session, table: type, *where: object) -> int:
    statement = select(func.count()).select_from(table)
    for condition in where:
        statement = statement.where(condition)  # type: ignore[arg-type]
    return int(session.execute(statement).scalar_one())


def test_a_url_is_stored_by_content_and_recorded_as_a_complete_graph(
    pipeline_settings: Settings,
    session: Session,
    http_server: LocalHTTPServer,
    s3_server: S3Server,
    s3_bucket: str,
    tmp_path: Path,
) -> None:
    body = b"%PDF-1.4\n" + bytes(range(256)) * 400
    path = _document(tmp_path, "report.pdf", body)
    url = http_server.route(f"/{uuid.uuid4().hex}/report.pdf", ServeFile(path, "application/pdf"))

    # Bytes that only start like a PDF: with no document steps, nothing tries to render them.
    outcome = ingest(
        AssetRequest(source=url, project="press", title="Report", tags=["q3"]),
        recipe=RecipeOptions(document=[]),
    )

    assert outcome.status == JobStatus.COMPLETED, outcome.error
    sha256 = hashlib.sha256(body).hexdigest()
    stored = s3_server.client().get_object(s3_bucket, content_key(sha256))
    assert hashlib.sha256(stored.read()).hexdigest() == sha256

    asset = session.get_one(Asset, outcome.asset_id)
    assert (asset.status, asset.processed, asset.kind) == (
        AssetStatus.READY,
        True,
        AssetKind.DOCUMENT,
    )
    assert (asset.content_type, asset.original_filename) == ("application/pdf", "report.pdf")
    assert (asset.title, asset.tags, asset.identifier) == ("Report", ["q3"], url)
    fmt = session.execute(select(Format).where(Format.asset_id == asset.id)).scalar_one()
    assert fmt.name == ORIGINAL
    file_set = session.execute(select(FileSet).where(FileSet.format_id == fmt.id)).scalar_one()
    assert (file_set.backend, file_set.bucket) == ("s3", s3_bucket)
    file = session.execute(select(File).where(File.file_set_id == file_set.id)).scalar_one()
    assert (file.sha256, file.md5, file.size) == (
        sha256,
        hashlib.md5(body).hexdigest(),
        len(body),
    )
    assert (file.key, file.status) == (content_key(sha256), FileStatus.CLOSED)
    assert session.get_one(Blob, sha256).key == content_key(sha256)
    job = session.get_one(IngestJob, outcome.job_id)
    assert (job.status, job.progress, job.asset_id) == (JobStatus.COMPLETED, 100, asset.id)
    assert _run_state(job.flow_run_id).type == StateType.COMPLETED
    events = session.execute(
        select(Event.type).where(Event.asset_id == asset.id).order_by(Event.id)
    ).scalars()
    assert list(events) == [
        "asset.created",
        "asset.changed",  # processing
        "asset.changed",  # kind, content type, filename of the original
        "asset.ready",  # ready and processed
        "task.completed",
    ]


def test_the_same_bytes_twice_are_one_blob_uploaded_once(
    pipeline_settings: Settings,
    session: Session,
    http_server: LocalHTTPServer,
    s3_server: S3Server,
    s3_bucket: str,
    tmp_path: Path,
) -> None:
    path = _document(tmp_path, "notes.txt", b"the same words, twice\n" * 100)
    first = http_server.route(f"/{uuid.uuid4().hex}/a.txt", ServeFile(path))
    second = http_server.route(f"/{uuid.uuid4().hex}/b.txt", ServeFile(path))

    outcomes = [ingest(AssetRequest(source=url)) for url in (first, second)]

    assert [o.status for o in outcomes] == [JobStatus.COMPLETED] * 2
    assert _count(session, Asset) == 2
    assert _count(session, Blob) == 1
    assert len(list(s3_server.client().list_objects(s3_bucket, recursive=True))) == 1


def test_an_identifier_used_twice_is_a_conflict_that_writes_nothing_but_its_failed_job(
    pipeline_settings: Settings, session: Session, http_server: LocalHTTPServer, tmp_path: Path
) -> None:
    url = http_server.route(
        f"/{uuid.uuid4().hex}/x.txt", ServeFile(_document(tmp_path, "x.txt", b"x" * 10))
    )
    first = ingest(AssetRequest(source=url, identifier="episode-1"))
    rows_before = [_count(session, table) for table in (Asset, Event, File)]
    asset_events = _count(session, Event, Event.job_id.is_(None))  # type: ignore[union-attr]

    again = ingest(AssetRequest(source=url, identifier="episode-1", title="other"))

    assert again.status == JobStatus.FAILED
    assert again.error == (
        f"identifier 'episode-1' is already used in project 'default' by asset {first.asset_id}"
    )
    assert again.existing_asset_id == first.asset_id
    # Only the failed job's own event: task.failed.
    assert [_count(session, table) for table in (Asset, Event, File)] == [
        rows_before[0],
        rows_before[1] + 1,
        rows_before[2],
    ]
    assert _count(session, Event, Event.job_id.is_(None)) == asset_events  # type: ignore[union-attr]
    assert _count(session, Event, Event.job_id == again.job_id, Event.type == "task.failed") == 1
    job = session.get_one(IngestJob, again.job_id)
    assert (job.status, job.error, job.asset_id) == (JobStatus.FAILED, again.error, None)
    state = _run_state(job.flow_run_id)
    assert (state.type, state.message) == (StateType.FAILED, again.error)


def test_a_missing_source_fails_the_job_asset_and_run_with_one_sentence_and_no_retry(
    pipeline_settings: Settings, session: Session, http_server: LocalHTTPServer
) -> None:
    path = f"/{uuid.uuid4().hex}/gone.jpg"
    url = http_server.route(path, Status(404))

    outcome = ingest(AssetRequest(source=url))

    assert outcome.status == JobStatus.FAILED
    asset = session.get_one(Asset, outcome.asset_id)
    job = session.get_one(IngestJob, outcome.job_id)
    assert asset.status == AssetStatus.FAILED
    assert asset.error == job.error == outcome.error
    assert outcome.error is not None and "404" in outcome.error
    assert job.status == JobStatus.FAILED
    assert _count(session, Format) == 0
    assert _count(session, File) == 0
    # The run is Failed on the server with the same sentence; the 404 was asked once.
    state = _run_state(job.flow_run_id)
    assert (state.type, state.message) == (StateType.FAILED, outcome.error)
    assert len(http_server.requests(path)) == 1


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("kind", ["refused", "corrupt"])
def test_a_refused_or_corrupt_source_fails_its_run_with_the_jobs_sentence(
    pipeline_settings: Settings,
    session: Session,
    http_server: LocalHTTPServer,
    tmp_path: Path,
    kind: str,
) -> None:
    if kind == "refused":  # a local path outside ASSETFLOW_LOCAL_ROOTS
        source = str(_document(tmp_path, "private.txt", b"not yours\n"))
    else:  # a JPEG cut in half
        whole = save_jpeg(scene(320, 240, seed=5), tmp_path / "whole.jpg")
        cut = _document(tmp_path, "cut.jpg", whole.read_bytes()[: whole.stat().st_size // 2])
        source = http_server.route(f"/{uuid.uuid4().hex}/cut.jpg", ServeFile(cut, "image/jpeg"))

    outcome = ingest(AssetRequest(source=source))

    assert outcome.status == JobStatus.FAILED
    job = session.get_one(IngestJob, outcome.job_id)
    asset = session.get_one(Asset, outcome.asset_id)
    state = _run_state(job.flow_run_id)
    assert (state.type, state.message) == (StateType.FAILED, outcome.error)
    assert job.error == asset.error == outcome.error
    assert ("refusing to read" if kind == "refused" else "truncated") in str(outcome.error).lower()


# A space around the source must not let it skip redaction.
@pytest.mark.parametrize("padding", ["", " \t"], ids=["plain", "padded"])
def test_credentials_in_the_source_never_reach_the_database(
    pipeline_settings: Settings,
    session: Session,
    http_server: LocalHTTPServer,
    tmp_path: Path,
    padding: str,
) -> None:
    path = _document(tmp_path, "signed.txt", b"signed content\n")
    route = f"/{uuid.uuid4().hex}/signed.txt"
    url = http_server.route(route, ServeFile(path))
    secret_url = url.replace("http://", "http://editor:hunter2@") + (
        "?X-Amz-Credential=AKIAEXAMPLE&X-Amz-Signature=deadbeefcafe&X-Amz-Expires=300"
    )

    outcome = ingest(AssetRequest(source=padding + secret_url + padding))

    assert outcome.status == JobStatus.COMPLETED, outcome.error
    # The fetch had the signature (read back from the job), and the job holds it no more.
    assert "X-Amz-Signature=deadbeefcafe" in http_server.requests(route)[0].target
    assert session.get_one(IngestJob, outcome.job_id).secret_source is None
    asset = session.get_one(Asset, outcome.asset_id)
    assert "hunter2" not in asset.source and "deadbeefcafe" not in asset.source
    assert "X-Amz-Expires=300" in asset.source
    dump = dump_rows(session)
    for secret in ("hunter2", "deadbeefcafe", "AKIAEXAMPLE"):
        assert secret not in dump


def _run_state(flow_run_id: uuid.UUID | None) -> State:
    """Read a flow run's state from the Prefect server."""
    assert flow_run_id is not None
    with get_client(sync_client=True) as client:
        state = client.read_flow_run(flow_run_id).state
    assert state is not None
    return state


def test_the_same_bytes_ingested_at_the_same_moment_are_stored_once_for_each_asset(
    pipeline_settings: Settings,
    session: Session,
    http_server: LocalHTTPServer,
    s3_server: S3Server,
    s3_bucket: str,
    tmp_path: Path,
) -> None:
    count = 6  # two would do; six meet in the few milliseconds a race needs more often
    body = b"the same minutes, sent again and again\n" * 200
    source = _document(tmp_path, "minutes.txt", body)
    # The server answers none of the requests until all have come: the runs fetch,
    # store and record the same bytes at the same moment.
    meeting = threading.Barrier(count, timeout=60)
    urls = [
        http_server.route(
            f"/{uuid.uuid4().hex}/minutes.txt", Together(meeting, ServeFile(source, "text/plain"))
        )
        for _ in range(count)
    ]

    # Each thread in a copy of this context, which points Prefect at the test's server.
    with ThreadPoolExecutor(max_workers=count) as pool:
        runs = [
            pool.submit(contextvars.copy_context().run, ingest, AssetRequest(source=url))
            for url in urls
        ]
        outcomes = [run.result() for run in runs]

    assert not meeting.broken, "the ingests were not in flight together"
    assert [o.status for o in outcomes] == [JobStatus.COMPLETED] * count, [
        o.error for o in outcomes
    ]
    assert len({o.asset_id for o in outcomes}) == count
    sha256 = hashlib.sha256(body).hexdigest()
    assert _count(session, Blob) == 1 and session.get_one(Blob, sha256).size == len(body)
    assert _count(session, File, File.sha256 == sha256) == count
    assert [o.object_name for o in s3_server.client().list_objects(s3_bucket, recursive=True)] == [
        content_key(sha256)
    ]

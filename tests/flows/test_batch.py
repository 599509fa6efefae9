"""The batch flow end to end: manifests served or written by the tests, the S3 server, each database."""

from __future__ import annotations

import csv
import io
import json
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from prefect.artifacts import Artifact
from sqlalchemy import func, select
from sqlmodel import Session

from core.settings import Settings
from flows.batch import ARTIFACT_KEY, BatchSummary, ItemStatus, batch_ingest
from flows.ingest import ingest_asset
from flows.requests import AssetRequest
from models.db import make_engine, new_session
from models.tables import Asset, AssetStatus, Blob, File, JobStatus, Project
from tests.fixtures.http_server import LocalHTTPServer, ServeFile, Status
from tests.fixtures.seaweed import S3Server

FIELDS = ["source", "project", "identifier", "title", "tags"]


@pytest.fixture
def session(pipeline_settings: Settings) -> Iterator[Session]:
    engine = make_engine(pipeline_settings.database_url)
    with new_session(engine) as session:
        yield session
    engine.dispose()


def _serve(http_server: LocalHTTPServer, directory: Path, name: str, body: bytes) -> str:
    path = directory / f"{uuid.uuid4().hex}-{name}"
    path.write_bytes(body)
    return http_server.route(f"/{uuid.uuid4().hex}/{name}", ServeFile(path, "text/plain"))


def _write_csv(path: Path, items: list[dict[str, str]], *, broken_at: int) -> Path:
    """Write a CSV manifest with a row of the wrong width as data row ``broken_at``."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=FIELDS, lineterminator="\n")
    writer.writeheader()
    for number, item in enumerate(items, start=1):
        if number == broken_at:
            out.write("only,three,fields\n")
        writer.writerow(item)
    path.write_text(out.getvalue())
    return path


def _write_jsonl(path: Path, items: list[dict[str, str]], *, broken_at: int) -> Path:
    lines = []
    for number, item in enumerate(items, start=1):
        if number == broken_at:
            lines.append('{"source": "http://unterminated')
        lines.append(json.dumps(item | {"tags": item["tags"].split(";") if item["tags"] else []}))
    path.write_text("\n".join(lines) + "\n")
    return path


def _count(session: Session, table: type, *where: object) -> int:
    statement = select(func.count()).select_from(table)
    for condition in where:
        statement = statement.where(condition)  # type: ignore[arg-type]
    session.expire_all()
    return int(session.execute(statement).scalar_one())


def _latest_artifact_rows() -> list[dict[str, object]]:
    artifact = Artifact.get(ARTIFACT_KEY)
    assert artifact is not None
    data = artifact.data
    return json.loads(data) if isinstance(data, str) else data  # type: ignore[return-value]


# Data row 3 is broken: line 4 of the CSV (after its header), line 3 of the JSON Lines.
@pytest.mark.parametrize(
    ("write", "broken_line"), [(_write_csv, 4), (_write_jsonl, 3)], ids=["csv", "jsonl"]
)
def test_a_manifest_ingests_new_items_skips_known_ones_and_reports_bad_lines(
    write: object,
    broken_line: int,
    pipeline_settings: Settings,
    session: Session,
    http_server: LocalHTTPServer,
    media_root: Path,
    tmp_path: Path,
) -> None:
    good = [
        _serve(http_server, tmp_path, f"doc{i}.txt", f"document {i}\n".encode()) for i in range(3)
    ]
    missing = http_server.route(f"/{uuid.uuid4().hex}/gone.txt", Status(404))
    known = _serve(http_server, tmp_path, "known.txt", b"ingested before the batch\n")
    before = ingest_asset(AssetRequest(source=known, project="press", identifier="known-1"))
    assert before.status == JobStatus.COMPLETED, before.error
    items = [
        {"source": good[0], "project": "press", "identifier": "a", "title": "A", "tags": "x;y"},
        {"source": good[1], "project": "press", "identifier": "b", "title": "", "tags": "z"},
        {"source": missing, "project": "press", "identifier": "gone", "title": "", "tags": ""},
        {"source": known, "project": "press", "identifier": "known-1", "title": "", "tags": ""},
        {"source": good[2], "project": "", "identifier": "", "title": "", "tags": ""},
    ]
    manifest = write(media_root / "batch.manifest", items, broken_at=3)  # type: ignore[operator]

    state = batch_ingest(str(manifest), concurrency=2, return_state=True)

    assert state.is_completed()
    summary: BatchSummary = state.result()
    assert (summary.completed, summary.failed, summary.skipped) == (3, 2, 1)
    by_identifier = {row.identifier: row for row in summary.rows}
    assert by_identifier["known-1"].status == ItemStatus.SKIPPED
    assert by_identifier["known-1"].asset_id == before.asset_id
    assert by_identifier["gone"].status == ItemStatus.FAILED
    assert "404" in str(by_identifier["gone"].error)
    unreadable = by_identifier[None]
    assert unreadable.status == ItemStatus.FAILED and str(unreadable.error).startswith(
        f"line {broken_line}: "
    )
    assert by_identifier[good[2]].status == ItemStatus.COMPLETED  # identifier = the source

    press = session.execute(select(Project).where(Project.name == "press")).scalar_one()
    a = session.get_one(Asset, by_identifier["a"].asset_id)
    assert (a.status, a.title, a.tags, a.project_id) == (
        AssetStatus.READY,
        "A",
        ["x", "y"],
        press.id,
    )
    assert _count(session, Asset, Asset.status == AssetStatus.READY) == 4
    assert _count(session, Asset, Asset.status == AssetStatus.FAILED) == 1
    default_asset = session.get_one(Asset, by_identifier[good[2]].asset_id)
    assert default_asset.project_id != press.id

    rows = _latest_artifact_rows()
    assert [(row["identifier"], row["status"]) for row in rows] == [
        (row.identifier, str(row.status)) for row in summary.rows
    ]

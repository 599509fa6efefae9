"""Reprocessing runs a new recipe on the stored original and skips what is current."""

from __future__ import annotations

import uuid
from pathlib import Path

from sqlmodel import Session, select

from core.requests import AssetRequest
from core.settings import Settings
from flows.ingest import ingest
from flows.recipes import RecipeOptions
from flows.reprocess import reprocess_asset
from models.tables import File, Format, IngestJob, JobKind, JobStatus
from tasks.images.process import ImageOptions
from tests.fixtures.http_server import LocalHTTPServer, ServeFile
from tests.fixtures.images import save_jpeg, scene


def _format_names(session: Session, asset_id: uuid.UUID | None) -> list[str]:
    session.expire_all()
    return sorted(session.exec(select(Format.name).where(Format.asset_id == asset_id)).all())


def test_a_new_size_is_made_from_the_stored_original_without_fetching_again(
    pipeline_settings: Settings, session: Session, http_server: LocalHTTPServer, tmp_path: Path
) -> None:
    photo = save_jpeg(scene(900, 600, seed=21), tmp_path / "photo.jpg")
    path = f"/{uuid.uuid4().hex}/photo.jpg"
    url = http_server.route(path, ServeFile(photo, "image/jpeg"))
    ingested = ingest(AssetRequest(source=url))
    assert ingested.asset_id is not None
    assert "SIZE_640" in _format_names(session, ingested.asset_id)

    recipe = RecipeOptions(image_options=ImageOptions(edges=(200,)))
    (outcome,) = reprocess_asset([ingested.asset_id], recipe)

    assert outcome.status == JobStatus.COMPLETED, outcome.error
    assert _format_names(session, ingested.asset_id) == ["ORIGINAL", "SIZE_200"]
    size = session.exec(
        select(File).where(File.asset_id == ingested.asset_id, File.name == "size-200.webp")
    ).one()
    assert (size.width, size.height) == (200, 133)
    assert len(http_server.requests(path)) == 1
    job = session.get_one(IngestJob, outcome.job_id)
    assert (job.kind, job.status) == (JobKind.REPROCESS, JobStatus.COMPLETED)


def test_an_unchanged_recipe_recomputes_nothing(
    pipeline_settings: Settings, session: Session, http_server: LocalHTTPServer, tmp_path: Path
) -> None:
    photo = save_jpeg(scene(640, 480, seed=22), tmp_path / "photo.jpg")
    url = http_server.route(f"/{uuid.uuid4().hex}/photo.jpg", ServeFile(photo, "image/jpeg"))
    ingested = ingest(AssetRequest(source=url))
    files_before = sorted(str(f.id) for f in session.exec(select(File)).all())

    (outcome,) = reprocess_asset([ingested.asset_id])

    assert outcome.status == JobStatus.COMPLETED, outcome.error
    session.expire_all()
    assert sorted(str(f.id) for f in session.exec(select(File)).all()) == files_before


def test_an_unknown_asset_is_reported_and_the_others_go_on(
    pipeline_settings: Settings, session: Session, http_server: LocalHTTPServer, tmp_path: Path
) -> None:
    photo = save_jpeg(scene(320, 240, seed=23), tmp_path / "photo.jpg")
    url = http_server.route(f"/{uuid.uuid4().hex}/photo.jpg", ServeFile(photo, "image/jpeg"))
    ingested = ingest(AssetRequest(source=url))
    missing = uuid.uuid4()

    outcomes = reprocess_asset([missing, ingested.asset_id])

    assert [o.status for o in outcomes] == [JobStatus.FAILED, JobStatus.COMPLETED]
    assert outcomes[0].error == f"asset {missing} has no stored original to reprocess"

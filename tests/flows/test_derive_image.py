"""Images through the ingest flow: sizes in the store, hashes, placeholder, near duplicates."""

from __future__ import annotations

import io
import uuid
from pathlib import Path

from PIL import Image
from sqlmodel import Session, col, select

from core.requests import AssetRequest
from core.settings import Settings
from flows.ingest import ingest
from models.similarity import NEAR_DUPLICATE, similar_to_asset
from models.tables import (
    ORIGINAL,
    Asset,
    AssetKind,
    AssetLink,
    AssetStatus,
    File,
    FileSet,
    Format,
    ImageHash,
    JobStatus,
)
from tests.fixtures.http_server import LocalHTTPServer, ServeFile
from tests.fixtures.images import marker_image, save_jpeg, scene
from tests.fixtures.seaweed import S3Server


def _serve(http_server: LocalHTTPServer, path: Path, content_type: str = "image/jpeg") -> str:
    return http_server.route(f"/{uuid.uuid4().hex}/{path.name}", ServeFile(path, content_type))


def _formats(session: Session, asset_id: uuid.UUID | None) -> dict[str, list[File]]:
    rows = session.exec(
        select(Format.name, File)
        .join(FileSet, col(FileSet.format_id) == col(Format.id))
        .join(File, col(File.file_set_id) == col(FileSet.id))
        .where(Format.asset_id == asset_id)
    ).all()
    formats: dict[str, list[File]] = {}
    for name, file in rows:
        formats.setdefault(name, []).append(file)
    return formats


def test_a_rotated_photo_gets_upright_sizes_hashes_and_a_placeholder(
    pipeline_settings: Settings,
    session: Session,
    http_server: LocalHTTPServer,
    s3_server: S3Server,
    s3_bucket: str,
    tmp_path: Path,
) -> None:
    # Stored 1600x1200 with orientation 6: displayed 1200x1600, the marker top-right.
    photo = save_jpeg(marker_image(1600, 1200), tmp_path / "phone.jpg", orientation=6)

    outcome = ingest(AssetRequest(source=_serve(http_server, photo)))

    assert outcome.status == JobStatus.COMPLETED, outcome.error
    asset = session.get_one(Asset, outcome.asset_id)
    assert (asset.kind, asset.status) == (AssetKind.IMAGE, AssetStatus.READY)
    assert asset.placeholder and len(asset.placeholder) >= 6
    formats = _formats(session, asset.id)
    assert sorted(formats) == [ORIGINAL, "SIZE_1280", "SIZE_160", "SIZE_320", "SIZE_640"]
    (original,) = formats[ORIGINAL]
    assert (original.width, original.height) == (1200, 1600)
    expected = {160: (120, 160), 320: (240, 320), 640: (480, 640), 1280: (960, 1280)}
    client = s3_server.client()
    for edge, (width, height) in expected.items():
        (file,) = formats[f"SIZE_{edge}"]
        assert (file.width, file.height, file.content_type) == (width, height, "image/webp")
        rendition = Image.open(io.BytesIO(client.get_object(s3_bucket, file.key).read()))
        assert (rendition.format, rendition.size) == ("WEBP", (width, height))
        assert not rendition.getexif()
        top_right = rendition.convert("RGB").getpixel((width - 3, 2))
        assert top_right[0] > 200 and top_right[1] < 80, "the photo was not turned upright"
    assert session.get(ImageHash, asset.id) is not None


def test_a_reencoded_copy_is_linked_as_a_near_duplicate_and_a_distinct_image_is_not(
    pipeline_settings: Settings, session: Session, http_server: LocalHTTPServer, tmp_path: Path
) -> None:
    picture = scene(800, 600, seed=7)
    first = save_jpeg(picture, tmp_path / "first.jpg", quality=92)
    copy = tmp_path / "copy.webp"
    picture.resize((400, 300)).save(copy, "WEBP", quality=60)
    other = save_jpeg(scene(800, 600, seed=8), tmp_path / "other.jpg")

    original = ingest(AssetRequest(source=_serve(http_server, first)))
    duplicate = ingest(AssetRequest(source=_serve(http_server, copy, "image/webp")))
    distinct = ingest(AssetRequest(source=_serve(http_server, other)))

    assert {o.status for o in (original, duplicate, distinct)} == {JobStatus.COMPLETED}
    links = session.exec(select(AssetLink).where(AssetLink.relation == NEAR_DUPLICATE)).all()
    assert [(link.asset_id, link.other_id) for link in links] == [
        (duplicate.asset_id, original.asset_id)
    ]
    assert duplicate.asset_id is not None
    similar = similar_to_asset(session=session, asset_id=duplicate.asset_id)
    assert [s.asset_id for s in similar] == [original.asset_id]


def test_a_truncated_jpeg_fails_the_asset_and_keeps_no_format(
    pipeline_settings: Settings, session: Session, http_server: LocalHTTPServer, tmp_path: Path
) -> None:
    whole = save_jpeg(scene(640, 480, seed=3), tmp_path / "whole.jpg")
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])

    outcome = ingest(AssetRequest(source=_serve(http_server, cut)))

    assert outcome.status == JobStatus.FAILED
    assert outcome.error is not None and "truncated" in outcome.error.lower()
    asset = session.get_one(Asset, outcome.asset_id)
    assert (asset.status, asset.error) == (AssetStatus.FAILED, outcome.error)
    # Nothing half-written looks complete: a failed ingest keeps its rows, no format.
    assert _formats(session, asset.id) == {}
    assert session.get(ImageHash, asset.id) is None

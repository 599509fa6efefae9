"""A playlist disguised as media is refused with a sentence; the file it names is never read."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from core.requests import AssetRequest
from core.settings import Settings
from flows.ingest import ingest
from models.db import make_engine, new_session
from models.tables import Asset, AssetStatus, Blob, Format, JobStatus
from tests.fixtures.av_media import make_video
from tests.fixtures.hostile_media import HOSTILE_PLAYLISTS


@pytest.mark.parametrize(
    ("name", "filename", "claimed"),
    [
        ("ID3 then HLS", "song.mp3", "audio/mpeg"),
        ("HLS then MP3 frames", "clip.mp4", "video/mp4"),
        ("ffconcat", "clip.mp4", "video/mp4"),
    ],
)
def test_a_playlist_disguised_as_media_is_refused_and_what_it_names_is_never_read(
    fs_pipeline_settings: Settings,
    media_root: Path,
    tmp_path: Path,
    name: str,
    filename: str,
    claimed: str,
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = make_video(outside / "secret.ts", seconds=3, width=64, height=48)
    hostile = HOSTILE_PLAYLISTS[name](media_root / filename, secret)

    outcome = ingest(AssetRequest(source=str(hostile)))

    assert outcome.status == JobStatus.FAILED
    assert f"claims to be {claimed} but its bytes are" in str(outcome.error)
    engine = make_engine(fs_pipeline_settings.database_url)
    with new_session(engine) as session:
        asset = session.get_one(Asset, outcome.asset_id)
        assert (asset.status, asset.error) == (AssetStatus.FAILED, outcome.error)
        # Nothing stored: no original, no fragments or waveform of the secret.
        assert _count(session, Format) == _count(session, Blob) == 0
    engine.dispose()
    assert [p for p in (tmp_path / "objects").rglob("*") if p.is_file()] == []


def _count(session: Session, table: type) -> int:
    return int(session.execute(select(func.count()).select_from(table)).scalar_one())

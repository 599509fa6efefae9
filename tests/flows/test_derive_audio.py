"""Audio through the ingest flow: fragments, waveform, fingerprints, and clip matching."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from sqlmodel import Session, col, func, select

from core.requests import AssetRequest
from core.settings import Settings
from flows.ingest import ingest
from models.fingerprints import SqlFingerprintIndex
from models.tables import (
    AUDIO_FRAGMENT,
    WAVEFORM,
    Asset,
    AssetKind,
    AssetStatus,
    AudioFingerprint,
    File,
    FileSet,
    FingerprintTerm,
    Format,
    JobStatus,
)
from tasks.audio.matching import match_clip
from tests.fixtures.audio_media import noisy_clip, structured_audio, video_with_audio
from tests.fixtures.http_server import LocalHTTPServer, ServeFile
from tests.fixtures.seaweed import S3Server

TRACK_S = 65.0


@pytest.fixture(scope="module")
def track(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return structured_audio(
        tmp_path_factory.mktemp("audio") / "track.wav", seed=11, duration_s=TRACK_S
    )


def _files(session: Session, asset_id: uuid.UUID | None, format_name: str) -> list[File]:
    """The files of one format of an asset, by name."""
    statement = (
        select(File)
        .join(FileSet, col(FileSet.id) == col(File.file_set_id))
        .join(Format, col(Format.id) == col(FileSet.format_id))
        .where(Format.asset_id == asset_id, Format.name == format_name)
        .order_by(col(File.name))
    )
    return list(session.exec(statement).all())


def test_an_audio_file_gets_fragments_a_waveform_and_a_matchable_fingerprint(
    pipeline_settings: Settings,
    session: Session,
    http_server: LocalHTTPServer,
    s3_server: S3Server,
    s3_bucket: str,
    track: Path,
    tmp_path: Path,
) -> None:
    url = http_server.route(f"/{uuid.uuid4().hex}/track.wav", ServeFile(track, "audio/wav"))

    outcome = ingest(AssetRequest(source=url, title="Track"))

    assert outcome.status == JobStatus.COMPLETED, outcome.error
    asset = session.get_one(Asset, outcome.asset_id)
    assert (asset.kind, asset.status) == (AssetKind.AUDIO, AssetStatus.READY)
    fragments = _files(session, asset.id, AUDIO_FRAGMENT)
    assert [round(f.duration_s or 0) for f in fragments] == [30, 30, 5]
    assert [f.technical["offset_s"] for f in fragments] == pytest.approx([0, 30, 60], abs=0.05)
    client = s3_server.client()
    for file in fragments:
        assert client.stat_object(s3_bucket, file.key).size == file.size
    (waveform_file,) = _files(session, asset.id, WAVEFORM)
    waveform = json.loads(client.get_object(s3_bucket, waveform_file.key).read())
    assert waveform["channels"] == 1 and waveform["length"] * 2 == len(waveform["data"])

    fingerprints = session.exec(
        select(AudioFingerprint).where(AudioFingerprint.asset_id == asset.id)
    ).all()
    assert len(fingerprints) == 4  # the track and one per fragment
    track_print = next(fp for fp in fingerprints if fp.file_id is None)
    assert track_print.duration_s == pytest.approx(TRACK_S, abs=0.5)
    terms = session.exec(
        select(func.count())
        .select_from(FingerprintTerm)
        .where(FingerprintTerm.fingerprint_id == track_print.id)
    ).one()
    assert terms > 100

    clip = noisy_clip(track, tmp_path / "clip.mp3", start_s=41.0, duration_s=10.0)
    matches = match_clip(clip, index=SqlFingerprintIndex(session))
    assert matches, "the clip was not matched"
    assert matches[0].asset_id == str(asset.id)
    assert matches[0].offset_s == pytest.approx(41.0, abs=1.0)


def test_a_video_with_sound_gets_audio_fragments_too(
    pipeline_settings: Settings,
    session: Session,
    http_server: LocalHTTPServer,
    tmp_path: Path,
) -> None:
    video = video_with_audio(tmp_path / "clip.mp4", seed=3, duration_s=6.0)
    url = http_server.route(f"/{uuid.uuid4().hex}/clip.mp4", ServeFile(video, "video/mp4"))

    outcome = ingest(AssetRequest(source=url))

    assert outcome.status == JobStatus.COMPLETED, outcome.error
    assert session.get_one(Asset, outcome.asset_id).kind == AssetKind.VIDEO
    (fragment,) = _files(session, outcome.asset_id, AUDIO_FRAGMENT)
    assert fragment.duration_s == pytest.approx(6.0, abs=0.1)

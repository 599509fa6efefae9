"""A video page through the ingest flow: yt-dlp fetches the video, the page names the asset.

There is no internet here, so the page is a local HTML page with a <video>
element, and the one thing replaced is the routing predicate that would send a
YouTube URL to yt-dlp (tested on its own in tests/tasks/test_ytdlp.py).
"""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

import pytest
from sqlmodel import Session, select

import flows.fetch_store
from core.requests import AssetRequest
from core.settings import Settings
from flows.ingest import ingest
from models.tables import ORIGINAL, Asset, AssetKind, AssetStatus, File, Format, JobStatus
from tests.fixtures.audio_media import video_with_audio
from tests.fixtures.http_server import LocalHTTPServer, ServeFile
from tests.fixtures.video_pages import hls_playlist, mediasite_page, segment_on, ts_segment


def test_a_video_page_is_ingested_as_its_video_titled_by_the_page(
    pipeline_settings: Settings,
    session: Session,
    http_server: LocalHTTPServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    clip = video_with_audio(tmp_path / "clip.mp4", seed=9, duration_s=3)
    folder = uuid.uuid4().hex
    http_server.route(f"/{folder}/clip.mp4", ServeFile(clip, "video/mp4"))
    page = tmp_path / "page.html"
    page.write_text(
        "<!doctype html><html><head><title>Harbour at dawn</title></head><body>"
        '<video controls src="clip.mp4"></video></body></html>'
    )
    page_url = http_server.route(f"/{folder}/watch", ServeFile(page, "text/html"))
    monkeypatch.setattr(flows.fetch_store, "is_video_page", lambda url: url.startswith(page_url))

    outcome = ingest(AssetRequest(source=page_url + "?token=s3cret"))

    assert outcome.status == JobStatus.COMPLETED, outcome.error
    asset = session.get_one(Asset, outcome.asset_id)
    assert (asset.kind, asset.title) == (AssetKind.VIDEO, "Harbour at dawn")
    assert "s3cret" not in asset.source
    original = session.exec(
        select(Format).where(Format.asset_id == asset.id, Format.name == ORIGINAL)
    ).one()
    assert original.technical["page"]["title"] == "Harbour at dawn"
    files = session.exec(select(File).where(File.asset_id == asset.id)).all()
    assert hashlib.sha256(clip.read_bytes()).hexdigest() in {file.sha256 for file in files}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_stream_segment_on_a_blocked_host_fails_the_ingest_and_is_never_fetched(
    pipeline_settings: Settings, session: Session, http_server: LocalHTTPServer,
    blocked_http_server: LocalHTTPServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:  # fmt: skip
    # Mediasite reads any host: its page on the allowed host names a playlist
    # whose second segment is on the blocked one (127.0.0.2, not allowed).
    monkeypatch.setenv("ASSETFLOW_YTDLP_EXTRACTORS", "generic,mediasite")
    segment = ts_segment(tmp_path / "seg.ts")
    segments = [segment_on(http_server, segment), segment_on(blocked_http_server, segment)]
    page_url, _ = mediasite_page(
        tmp_path, http_server, playlist=hls_playlist(tmp_path, http_server, segments)
    )

    outcome = ingest(AssetRequest(source=page_url))

    assert outcome.status == JobStatus.FAILED
    assert outcome.error is not None
    assert "127.0.0.2 resolves to a loopback address" in outcome.error
    asset = session.get_one(Asset, outcome.asset_id)
    assert (asset.status, asset.error) == (AssetStatus.FAILED, outcome.error)
    assert session.exec(select(File).where(File.asset_id == asset.id)).all() == []
    assert blocked_http_server.all_requests() == []

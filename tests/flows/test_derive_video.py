"""Videos through the ingest flow: proxy, poster, keyframe map and metadata in the graph."""

from __future__ import annotations

import contextvars
import re
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prefect.concurrency.sync import concurrency
from sqlmodel import Session, col, select

from core.requests import AssetRequest
from core.settings import Settings
from flows.derive_video import TRANSCODE_LIMIT, ensure_transcode_limit
from flows.ingest import ingest
from models.tables import (
    KEYFRAMES,
    ORIGINAL,
    POSTER,
    PROXY,
    Asset,
    AssetKind,
    AssetStatus,
    File,
    FileSet,
    Format,
    JobStatus,
)
from tasks.video import probe_media
from tests.fixtures.av_media import make_truncated, make_video
from tests.fixtures.http_server import LocalHTTPServer, ServeFile
from tests.fixtures.seaweed import S3Server

CUE = re.compile(r"^(?P<key>sha256/[0-9a-f/]+)#xywh=(\d+),(\d+),(\d+),(\d+)$")


def _serve(http_server: LocalHTTPServer, path: Path, content_type: str = "video/mp4") -> str:
    return http_server.route(f"/{uuid.uuid4().hex}/{path.name}", ServeFile(path, content_type))


def _formats(session: Session, asset_id: uuid.UUID | None) -> dict[str, tuple[Format, list[File]]]:
    found: dict[str, tuple[Format, list[File]]] = {}
    for fmt in session.exec(select(Format).where(Format.asset_id == asset_id)).all():
        files = session.exec(
            select(File)
            .join(FileSet, col(FileSet.id) == col(File.file_set_id))
            .where(FileSet.format_id == fmt.id)
            .order_by(col(File.name))
        ).all()
        found[fmt.name] = (fmt, list(files))
    return found


def test_a_video_gets_a_web_proxy_a_poster_and_a_keyframe_map(
    pipeline_settings: Settings,
    session: Session,
    http_server: LocalHTTPServer,
    s3_server: S3Server,
    s3_bucket: str,
    tmp_path: Path,
) -> None:
    source = make_video(tmp_path / "talk.mp4", seconds=4, width=640, height=360)

    outcome = ingest(AssetRequest(source=_serve(http_server, source)))

    assert outcome.status == JobStatus.COMPLETED, outcome.error
    asset = session.get_one(Asset, outcome.asset_id)
    assert (asset.kind, asset.status) == (AssetKind.VIDEO, AssetStatus.READY)
    formats = _formats(session, asset.id)
    assert {ORIGINAL, PROXY, POSTER, KEYFRAMES, "AUDIO_FRAGMENT"} <= set(formats)
    original_format, (original,) = formats[ORIGINAL]
    assert original_format.technical["container"].startswith("mov,mp4")
    assert (original.width, original.height) == (640, 360)
    assert original.duration_s == pytest.approx(4.0, abs=0.1)

    client = s3_server.client()
    _, (proxy_file,) = formats[PROXY]
    proxy_path = tmp_path / "proxy.mp4"
    client.fget_object(s3_bucket, proxy_file.key, str(proxy_path))
    proxy = probe_media(proxy_path)
    assert proxy.video is not None and proxy.audio is not None
    assert (proxy.video.codec, proxy.video.has_b_frames) == ("h264", 0)
    assert (proxy.video.width, proxy.video.height) == (640, 360)  # never upscaled
    assert (proxy.audio.codec, proxy.audio.sample_rate, proxy.audio.channels) == ("aac", 48000, 2)

    _, (poster,) = formats[POSTER]
    assert (poster.content_type, poster.width, poster.height) == ("image/jpeg", 640, 360)

    keyframes, files = formats[KEYFRAMES]
    sheets = {file.key: file for file in files if file.content_type == "image/jpeg"}
    (vtt_file,) = [file for file in files if file.name == "keyframes.vtt"]
    vtt = client.get_object(s3_bucket, vtt_file.key).read().decode()
    targets = [line for line in vtt.splitlines() if "#xywh=" in line]
    assert len(targets) == keyframes.technical["frame_count"] == 8  # 4 s at 2 a second
    for target in targets:
        match = CUE.match(target)
        assert match, target
        sheet = sheets[match["key"]]
        x, y, w, h = (int(match[i]) for i in range(2, 6))
        assert sheet.width is not None and sheet.height is not None
        assert x + w <= sheet.width and y + h <= sheet.height


def test_a_portrait_phone_video_gets_an_upright_portrait_proxy(
    pipeline_settings: Settings, session: Session, http_server: LocalHTTPServer, tmp_path: Path
) -> None:
    source = make_video(tmp_path / "phone.mp4", seconds=2, width=480, height=272, rotate=90)

    outcome = ingest(AssetRequest(source=_serve(http_server, source)))

    assert outcome.status == JobStatus.COMPLETED, outcome.error
    formats = _formats(session, outcome.asset_id)
    _, (proxy,) = formats[PROXY]
    assert (proxy.width, proxy.height) == (272, 480)
    _, (original,) = formats[ORIGINAL]
    assert (original.width, original.height) == (272, 480)


def test_a_truncated_video_fails_with_a_reason_and_keeps_no_format(
    pipeline_settings: Settings, session: Session, http_server: LocalHTTPServer, tmp_path: Path
) -> None:
    whole = make_video(tmp_path / "whole.mp4", seconds=4, width=320, height=240)
    cut = make_truncated(whole, tmp_path / "cut.mp4")

    outcome = ingest(AssetRequest(source=_serve(http_server, cut)))

    assert outcome.status == JobStatus.FAILED
    assert outcome.error is not None
    assert re.search("truncated|moov atom not found", outcome.error), outcome.error
    asset = session.get_one(Asset, outcome.asset_id)
    assert asset.status == AssetStatus.FAILED
    # A failed ingest keeps nothing but its job and asset rows, not even the original.
    assert _formats(session, asset.id) == {}


def test_html_served_as_video_fails_and_stores_nothing(
    pipeline_settings: Settings,
    session: Session,
    http_server: LocalHTTPServer,
    s3_server: S3Server,
    s3_bucket: str,
    tmp_path: Path,
) -> None:
    page = tmp_path / "clip.mp4"
    page.write_text("<!DOCTYPE html><html><body>Sign in to continue</body></html>")

    outcome = ingest(AssetRequest(source=_serve(http_server, page)))

    assert outcome.status == JobStatus.FAILED
    assert outcome.error == "the source claims to be video/mp4 but its bytes are an HTML page"
    assert _formats(session, outcome.asset_id) == {}
    assert list(s3_server.client().list_objects(s3_bucket, recursive=True)) == []


# How long a held-back transcode is watched for not starting.
HELD_S = 5.0


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_transcode_waits_while_another_holds_the_global_limit(
    pipeline_settings: Settings, session: Session, http_server: LocalHTTPServer, tmp_path: Path
) -> None:
    url = _serve(http_server, make_video(tmp_path / "held.mp4", seconds=1, width=160, height=120))
    ensure_transcode_limit(pipeline_settings)  # one slot, as on a 2-core worker

    def probed() -> bool:
        """Whether the run has recorded its probe, the step just before the transcode."""
        session.expire_all()
        statement = (
            select(File.duration_s)
            .join(Asset, col(Asset.id) == col(File.asset_id))
            .where(Asset.identifier == url)
        )
        return any(duration is not None for duration in session.exec(statement).all())

    def proxy_recorded() -> bool:
        session.expire_all()
        statement = (
            select(Format.id)
            .join(Asset, col(Asset.id) == col(Format.asset_id))
            .where(Asset.identifier == url, Format.name == PROXY)
        )
        return session.exec(statement).first() is not None

    with ThreadPoolExecutor(max_workers=1) as pool:
        with concurrency(TRANSCODE_LIMIT, occupy=1):  # another transcode holds the only slot
            running = pool.submit(contextvars.copy_context().run, ingest, AssetRequest(source=url))
            _wait_for(probed, timeout_s=120)
            transcoded_while_held = _wait_for(proxy_recorded, timeout_s=HELD_S, expected=False)
            released = datetime.now(UTC)
        outcome = running.result(timeout=120)

    assert not transcoded_while_held
    assert outcome.status == JobStatus.COMPLETED, outcome.error
    proxy, _ = _formats(session, outcome.asset_id)[PROXY]
    assert proxy.created_at >= released


def _wait_for(condition: Callable[[], bool], *, timeout_s: float, expected: bool = True) -> bool:
    """Poll ``condition`` until it holds or ``timeout_s`` passes; fail if it was ``expected``."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            assert not expected, f"gave up after {timeout_s:.0f} s"
            return False
        time.sleep(0.1)
    return True

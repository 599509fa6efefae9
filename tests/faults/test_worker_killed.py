"""A worker SIGKILLed mid-transcode: its asset's lease runs out and the next run finishes it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psutil
from prefect.settings import get_current_settings
from sqlmodel import col, select

from core.requests import AssetRequest
from core.settings import Settings
from flows.ingest import ingest
from models.db import engine_for, new_session
from models.gc import collect_garbage
from models.tables import PROXY, Asset, AssetStatus, Format, IngestJob, JobStatus, utcnow
from storage import open_store
from tests.fixtures.av_media import make_video

WORKER = (
    "import sys\n"
    "from core.requests import AssetRequest\n"
    "from flows.ingest import ingest\n"
    "ingest(AssetRequest(source=sys.argv[1], identifier=sys.argv[2]))\n"
)
# The worker's Python start, Prefect's flow run and the steps before the transcode.
TRANSCODE_START_TIMEOUT_S = 120.0
POLL_S = 0.05


def test_a_killed_workers_asset_is_taken_over_by_the_next_run(
    sqlite_url: str, fault_settings: Callable[..., Settings], media_root: Path
) -> None:
    # Two transcode slots: the killed worker's stays taken until its Prefect lease runs out.
    settings = fault_settings(database_url=sqlite_url, lease_s=3.0, transcode_slots=2)
    video = make_video(media_root / "talk.mp4", seconds=8, width=640, height=360)
    worker = subprocess.Popen(
        [sys.executable, "-c", WORKER, str(video), "talk"],
        env=os.environ | {"PREFECT_API_URL": str(get_current_settings().api.url)},
        cwd=Path(__file__).resolve().parents[2],
        start_new_session=True,  # its ffmpeg dies with it
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_transcode(worker)
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()
    asset = _asset(settings)
    assert asset.status == AssetStatus.PROCESSING and asset.lease_expires_at is not None
    time.sleep(max(0.0, (asset.lease_expires_at - utcnow()).total_seconds()) + 0.1)

    outcome = ingest(AssetRequest(source=str(video), identifier="talk"))

    assert outcome.status == JobStatus.COMPLETED, outcome.error
    assert outcome.asset_id == asset.id
    engine = engine_for(settings)
    try:
        with new_session(engine) as session:
            proxies = session.exec(
                select(Format).where(Format.asset_id == asset.id, Format.name == PROXY)
            ).all()
            jobs = session.exec(
                select(IngestJob)
                .where(IngestJob.asset_id == asset.id)
                .order_by(col(IngestJob.created_at))
            ).all()
            assert session.get_one(Asset, asset.id).status == AssetStatus.READY
        report = collect_garbage(engine, open_store(settings), grace_s=0)
    finally:
        engine.dispose()
    assert len(proxies) == 1
    assert [job.status for job in jobs] == [JobStatus.FAILED, JobStatus.COMPLETED]
    assert "stopped renewing the asset's lease" in str(jobs[0].error)
    assert report.missing == 0


def _wait_for_transcode(worker: subprocess.Popen[bytes]) -> None:
    """Return once the worker runs ffmpeg on the proxy (no event to await: poll its children)."""
    deadline = time.monotonic() + TRANSCODE_START_TIMEOUT_S
    process = psutil.Process(worker.pid)
    while time.monotonic() < deadline:
        assert worker.poll() is None, "the worker ended before it transcoded"
        if any(child.name() == "ffmpeg" for child in process.children(recursive=True)):
            return
        time.sleep(POLL_S)
    raise AssertionError("the worker did not start transcoding")


def _asset(settings: Settings) -> Asset:
    engine = engine_for(settings)
    try:
        with new_session(engine) as session:
            return session.exec(select(Asset).where(Asset.identifier == "talk")).one()
    finally:
        engine.dispose()

"""Benchmark yt-dlp downloads through the guarded handler against yt-dlp's own handlers.

    uv run python bench/bench_ytdlp.py [--runs 3]

Serves a 200 MiB file behind a <video> page and an HLS playlist of 200 one-MiB
segments from the test suite's HTTP server (in this process), downloads each
with a stock ``YoutubeDL`` (urllib/requests, unguarded) and with
``GuardedYoutubeDL`` (httpx over the guarded transport), and reports the best
wall and CPU time of the runs.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # a plain script: make core/, tasks/, tests/ importable

from yt_dlp import YoutubeDL  # noqa: E402

from core.settings import Settings  # noqa: E402
from tasks.ytdlp_guard import GuardedYoutubeDL  # noqa: E402
from tests.fixtures.http_server import LocalHTTPServer, ServeFile, serve_http  # noqa: E402
from tests.fixtures.video_pages import hls_playlist, segment_on, video_page  # noqa: E402

MIB = 1024 * 1024
TOTAL_MIB = 200


def _options(dest: Path) -> dict[str, Any]:
    return {
        "quiet": True,
        "no_warnings": True,
        "noprogress": True,
        "format": "b",
        "fixup": "never",  # time the transfer, not an ffmpeg remux
        "outtmpl": {"default": str(dest / "video.%(ext)s")},
    }


def _download(guarded: bool, url: str, dest: Path, settings: Settings) -> tuple[float, float]:
    dest.mkdir()
    wall, cpu = time.perf_counter(), time.process_time()
    ydl = (
        GuardedYoutubeDL(_options(dest), settings=settings)
        if guarded
        else YoutubeDL(_options(dest))
    )
    with ydl:
        ydl.extract_info(url, ie_key="Generic")
    measured = time.perf_counter() - wall, time.process_time() - cpu
    shutil.rmtree(dest)
    return measured


def _sources(server: LocalHTTPServer, work: Path) -> dict[str, str]:
    big = work / "big.mp4"
    block = os.urandom(MIB)
    with big.open("wb") as out:
        for _ in range(TOTAL_MIB):
            out.write(block)
    segment = work / "seg.ts"
    segment.write_bytes(block)
    media = server.route(f"/{uuid.uuid4().hex}/big.mp4", ServeFile(big, "video/mp4"))
    segments = [segment_on(server, segment) for _ in range(TOTAL_MIB)]
    return {
        f"file {TOTAL_MIB} MiB": video_page(work, server, media),
        f"HLS {TOTAL_MIB} x 1 MiB": hls_playlist(work, server, segments),
    }


def main() -> None:
    """Run every source with both handlers and print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    runs = parser.parse_args().runs
    settings = Settings(_env_file=None, allowed_networks=[ipaddress.ip_network("127.0.0.1/32")])  # type: ignore[call-arg]
    with tempfile.TemporaryDirectory() as tmp, serve_http() as server:
        work = Path(tmp)
        print(f"{'source':18} {'handler':12} {'wall s':>7} {'cpu s':>7} {'MiB/s':>7}")
        for name, url in _sources(server, work).items():
            for guarded in (False, True):
                wall, cpu = min(
                    _download(guarded, url, work / f"dl{i}", settings) for i in range(runs)
                )
                handler = "guarded" if guarded else "yt-dlp own"
                print(f"{name:18} {handler:12} {wall:7.2f} {cpu:7.2f} {TOTAL_MIB / wall:7.1f}")
    print(f"load average: {os.getloadavg()}")


if __name__ == "__main__":
    main()

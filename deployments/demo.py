"""``make demo``: make real media, serve it locally, ingest it on the embedded defaults.

Filesystem object store under ./data/objects, SQLite at ./data/assetflow.db,
Prefect's ephemeral local server. Running it again reports the assets it
already ingested (their identifiers are taken) and shows them.
"""

from __future__ import annotations

import functools
import os
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image, ImageDraw

if TYPE_CHECKING:
    from flows.jobs import JobOutcome

DEMO_DIR = Path("data/demo-media")
PROJECT = "demo"


def make_image(path: Path) -> None:
    """Draw a 1600x1200 JPEG scene with EXIF orientation 6 (shot with the phone turned)."""
    image = Image.linear_gradient("L").resize((1600, 1200)).convert("RGB")
    draw = ImageDraw.Draw(image)
    for index in range(12):
        box = (60 + index * 120, 100 + index * 70, 220 + index * 120, 300 + index * 70)
        draw.ellipse(box, fill=(40 * index % 256, 90, 255 - 20 * index))
    exif = Image.Exif()
    exif[0x0112] = 6
    image.save(path, "JPEG", quality=90, exif=exif)


def make_video(path: Path) -> None:
    """Encode 4 s of a 640x360 test pattern with a changing tone mix."""
    _ffmpeg(
        ["-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25:duration=4"],
        ["-f", "lavfi", "-i", _structured_audio(4)],
        ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(path)],
    )


def make_wav(path: Path) -> None:
    """Write 20 s of structured audio (tones, a sweep and noise) as WAV."""
    _ffmpeg(["-f", "lavfi", "-i", _structured_audio(20)], [str(path)])


def _structured_audio(seconds: int) -> str:
    # A pure sine has an empty Chromaprint fingerprint; a sweep over stepped
    # tones with a little noise gives it something to hold on to.
    expression = (
        "0.4*sin(2*PI*(220+110*floor(2*t))*t)+0.3*sin(2*PI*(300+200*t)*t)+0.05*(random(0)-0.5)"
    )
    return f"aevalsrc={expression}:s=44100:d={seconds}"


def _ffmpeg(*parts: list[str]) -> None:
    command = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y"]
    for part in parts:
        command += part
    subprocess.run(command, check=True)


@contextmanager
def serve(directory: Path) -> Iterator[str]:
    """Serve a directory over HTTP on a free loopback port; yield its base URL."""
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(directory))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def ingest_demo_media(directory: Path) -> list[tuple[str, JobOutcome]]:
    """Make the demo media in ``directory`` (where missing), serve and ingest each; return outcomes.

    The store and the asset store are the ones the ASSETFLOW_* settings name.
    """
    from core.requests import AssetRequest
    from flows.ingest import ingest

    directory.mkdir(parents=True, exist_ok=True)
    makers = {"photo.jpg": make_image, "clip.mp4": make_video, "tones.wav": make_wav}
    for name, make in makers.items():
        if not (directory / name).exists():
            make(directory / name)
    with serve(directory) as base_url:
        return [
            (
                name,
                ingest(
                    AssetRequest(
                        source=f"{base_url}/{name}",
                        project=PROJECT,
                        identifier=f"demo/{name}",
                        title=f"Demo {name}",
                        tags=["demo"],
                    )
                ),
            )
            for name in makers
        ]


def main() -> None:
    """Generate, serve, ingest and show the demo media."""
    # The demo server is on loopback, which assetflow refuses unless allowed.
    os.environ.setdefault("ASSETFLOW_ALLOWED_NETWORKS", "127.0.0.1/32")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # Prefect's ephemeral server gets 20 s to start by default: too few on a busy 2-core box.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")

    from core.settings import Settings
    from deployments.cli import show_graph
    from models.migrate import upgrade_database

    settings = Settings()
    upgrade_database(settings.database_url)
    for name, outcome in ingest_demo_media(DEMO_DIR):
        print(f"\n== {name}: {outcome.status} {outcome.error or ''}")
        shown = outcome.asset_id or outcome.existing_asset_id
        if shown is not None:
            show_graph(shown, as_json=False)
    print(f"\nObjects under {settings.storage_url}, graph in {settings.database_url}")


if __name__ == "__main__":
    main()

"""A PostgreSQL cluster to stop and start on purpose, and a manifest of photos to batch.

Shared by the fault tests and bench/bench_faults.py.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.fixtures.database import PG_HOST, _ThrowawayCluster
from tests.fixtures.images import scene


class Cluster(_ThrowawayCluster):
    """A throwaway cluster that a test may stop and start again on the same port and data."""

    def __init__(self, root: Path) -> None:
        self.root = root
        super().__init__(root)

    def stop_fast(self) -> None:
        """Stop the server as ``pg_ctl stop -m fast`` does: sessions are terminated at once."""
        self._as_postgres([self.bin / "pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop"])

    def start(self) -> None:
        """Start the server again and return once it accepts connections."""
        self._as_postgres(
            [
                self.bin / "pg_ctl",
                "-D",
                self.data,
                "-w",
                "-l",
                self.root / "log",
                "-o",
                f"-h {PG_HOST} -p {self.port} -k {self.root}",
                "start",
            ]
        )


@contextmanager
def throwaway_cluster() -> Iterator[Cluster]:
    """Run a cluster in a temp dir of its own until the block ends."""
    # Not below pytest's temp root: its parents are private to root, and the
    # server runs as the postgres user.
    parent = Path(tempfile.mkdtemp(prefix="assetflow-faults-pg-"))
    parent.chmod(0o755)
    cluster = Cluster(parent / "cluster")
    try:
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(parent, ignore_errors=True)


def photo_manifest(media_root: Path, count: int, *, name: str = "photos") -> Path:
    """Write ``count`` distinct small JPEGs below the media root, and a JSON Lines manifest."""
    lines = []
    for number in range(count):
        path = media_root / f"{name}-{number:03d}.jpg"
        scene(256, 192, seed=number).save(path, quality=85)
        lines.append(f'{{"source": "{path}", "identifier": "{name}-{number:03d}"}}')
    manifest = media_root / f"{name}.jsonl"
    manifest.write_text("\n".join(lines) + "\n")
    return manifest

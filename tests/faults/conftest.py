"""Real faults: a PostgreSQL cluster of the test's own to stop and start, and settings to match.

The session's shared PostgreSQL (and SeaweedFS, which a test restarts on
its own ports and data) serve other tests: the database tests here stop and
start a throwaway cluster only they use.
"""

from __future__ import annotations

import ipaddress
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from core.settings import Settings
from models.migrate import upgrade_database
from tests.fixtures.database import PG_ADMIN_USER, PG_HOST, _admin, _pg_url, _ThrowawayCluster
from tests.fixtures.images import scene
from tests.fixtures.pipeline import export_settings


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


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    """A PostgreSQL cluster of this module's own, on a free port."""
    # Not below pytest's temp root: its parents are private to root, and the
    # server runs as the postgres user.
    parent = Path(tempfile.mkdtemp(prefix="assetflow-faults-pg-"))
    parent.chmod(0o755)
    root = parent / "cluster"
    cluster = Cluster(root)
    try:
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(root.parent, ignore_errors=True)


@pytest.fixture
def cluster_url(cluster: Cluster) -> str:
    """A fresh, migrated database on the module's own cluster."""
    name = f"assetflow_faults_{uuid.uuid4().hex[:12]}"
    with _admin(cluster.port) as admin:
        admin.execute(f'CREATE DATABASE "{name}" OWNER {PG_ADMIN_USER}')
    url = _pg_url(cluster.port, name)
    upgrade_database(url)
    return url


@pytest.fixture
def fault_settings(
    prefect_server: None,
    monkeypatch: pytest.MonkeyPatch,
    s3_settings: Settings,
    media_root: Path,
    tmp_path: Path,
) -> Callable[..., Settings]:
    """Export settings for flow runs on the S3 server; the test names the database and windows."""

    def export(**changes: object) -> Settings:
        work = tmp_path / "work"
        work.mkdir(exist_ok=True)
        settings = s3_settings.model_copy(
            update={
                "allowed_networks": [ipaddress.ip_network("127.0.0.1/32")],
                "local_roots": [media_root],
                "temp_dir": work,
                **changes,
            }
        )
        export_settings(monkeypatch, settings)
        return Settings()

    return export


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

"""Real faults: a PostgreSQL cluster of the test's own to stop and start, and settings to match.

The session's shared PostgreSQL (and SeaweedFS, which a test restarts on
its own ports and data) serve other tests: the database tests here stop and
start a throwaway cluster only they use.
"""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from core.settings import Settings
from models.migrate import upgrade_database
from tests.faults.cluster import Cluster, throwaway_cluster
from tests.fixtures.database import PG_ADMIN_USER, _admin, _pg_url
from tests.fixtures.pipeline import export_settings


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    """A PostgreSQL cluster of this module's own, on a free port."""
    with throwaway_cluster() as cluster:
        yield cluster


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

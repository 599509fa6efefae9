"""An assetflow service for end-to-end tests: ``python -m deployments.serve`` on real servers.

One serve process per module, on the session's Prefect server, a PostgreSQL
database and an S3 bucket of its own. The test process talks to the same
Prefect server and asset store, as a client program would.
"""

from __future__ import annotations

import ipaddress
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import pytest
from prefect import get_client
from prefect.exceptions import ObjectNotFound
from prefect.settings import PREFECT_API_URL, temporary_settings
from pydantic import SecretStr

from core.settings import Settings
from deployments.serve import INGEST_DEPLOYMENT
from tests.fixtures.database import _admin, _pg_url
from tests.fixtures.prefect_server import PrefectServer
from tests.fixtures.seaweed import S3Server

# serve imports Prefect and the flows and migrates the store: 20 s here idle, over a
# minute when the shared machine is at a load of 15.
READY_TIMEOUT_S = 180.0
POLL_S = 0.25
# Crash detection in the service: runs silent this long are marked Crashed
# (heartbeats come every 30 s, Prefect's minimum).
CRASH_AFTER_SILENT_S = 40.0
# The ``assetflow`` command of this environment, as a user runs it.
ASSETFLOW = Path(sys.executable).with_name("assetflow")

T = TypeVar("T")


def settings_env(settings: Settings) -> dict[str, str]:
    """Render settings as the ``ASSETFLOW_*`` variables a child process reads."""
    env = {}
    for name, value in settings.model_dump().items():
        if value is None:
            continue
        if isinstance(value, list):
            value = ",".join(str(item) for item in value)
        elif isinstance(value, SecretStr):
            value = value.get_secret_value()
        env[f"ASSETFLOW_{name.upper()}"] = str(value)
    return env


def wait_until(condition: Callable[[], T], *, timeout_s: float, what: str) -> T:
    """Poll ``condition()`` until it returns something truthy; fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(POLL_S)
    pytest.fail(f"timed out after {timeout_s:.0f} s waiting for {what}")


class Service:
    """The ``assetflow serve`` process: start it, kill it (with its flow runs), start it again."""

    def __init__(self, env: dict[str, str], workdir: Path) -> None:
        self.env = env
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start serving and return once the runner polls the Prefect server."""
        started = datetime.now(UTC)
        with (self.workdir / "serve.out").open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "deployments.serve"],
                env=self.env,
                cwd=self.workdir,
                stdout=out,
                stderr=subprocess.STDOUT,
                # Its own process group, so a kill takes its flow-run children too.
                start_new_session=True,
            )
        wait_until(lambda: self._polled_since(started), timeout_s=READY_TIMEOUT_S, what="serve")

    def _polled_since(self, started: datetime) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            pytest.fail(f"serve exited with {self.process.returncode}:\n{self.log()}")
        with get_client(sync_client=True) as client:
            try:
                deployment = client.read_deployment_by_name(INGEST_DEPLOYMENT)
            except ObjectNotFound:  # not created yet
                return False
        return deployment.last_polled is not None and deployment.last_polled >= started

    def kill(self) -> None:
        """SIGKILL the service and every flow run it started: nothing can report."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self.process = None

    def stop(self) -> None:
        """Stop the service: SIGTERM, a grace period, then SIGKILL."""
        if self.process is None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()
        self.process = None

    def log(self) -> str:
        """Return the tail of the service's output."""
        return (self.workdir / "serve.out").read_text(errors="replace")[-6000:]


@pytest.fixture(scope="module")
def service_settings(
    tmp_path_factory: pytest.TempPathFactory,
    s3_server: S3Server,
    postgres_port: int,
    postgres_template: str,
) -> Iterator[Settings]:
    """Settings of the service: a bucket and a PostgreSQL database of its own."""
    bucket = f"e2e-{uuid.uuid4().hex[:12]}"
    s3_server.client().make_bucket(bucket)
    database = f"assetflow_e2e_{uuid.uuid4().hex[:12]}"
    with _admin(postgres_port) as admin:
        admin.execute(f'CREATE DATABASE "{database}" TEMPLATE "{postgres_template}"')
    root = tmp_path_factory.mktemp("service")
    (root / "media").mkdir()
    (root / "work").mkdir()
    yield s3_server.settings(bucket).model_copy(
        update={
            "database_url": _pg_url(postgres_port, database),
            "allowed_networks": [ipaddress.ip_network("127.0.0.1/32")],
            "local_roots": [root / "media"],
            "temp_dir": root / "work",
            # A stalled source holds its flow run until the test kills it.
            "read_timeout_s": 120.0,
            "crash_after_silent_s": CRASH_AFTER_SILENT_S,
        }
    )
    with _admin(postgres_port) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


@pytest.fixture(scope="module")
def client_env(prefect_api: PrefectServer, service_settings: Settings) -> Iterator[None]:
    """Point this process's Prefect client and ``Settings()`` at the service's servers."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {**prefect_api.env(), **settings_env(service_settings)}.items():
            patch.setenv(name, value)
        with temporary_settings(updates={PREFECT_API_URL: prefect_api.api_url}):
            yield


@pytest.fixture(scope="module")
def service(
    client_env: None,
    prefect_api: PrefectServer,
    service_settings: Settings,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Service]:
    """Run ``python -m deployments.serve`` against the servers for the module's tests."""
    env = {
        **os.environ,
        **prefect_api.env(),
        **settings_env(service_settings),
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    }
    running = Service(env, tmp_path_factory.mktemp("serve"))
    running.start()
    try:
        yield running
    finally:
        running.stop()

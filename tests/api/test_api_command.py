"""``assetflow api``: the command serves the app on the port given, migrating the store first."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.fixtures.ports import free_port

STARTUP_TIMEOUT_S = 90.0


def _command(*args: str) -> list[str]:
    return [sys.executable, "-c", "from deployments.cli import app; app()", "api", *args]


def test_the_api_command_serves_the_schema_on_a_fresh_store(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "ASSETFLOW_DATABASE_URL": f"sqlite:///{tmp_path / 'new.db'}",
        "ASSETFLOW_STORAGE_URL": f"file://{tmp_path / 'objects'}",
        "PREFECT_API_URL": "",
    }
    process = subprocess.Popen(
        _command("--port", str(port)), env=env, cwd=tmp_path, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "assetflow api did not start"
                time.sleep(0.1)  # a child process: polling its port is all there is
        schema = httpx.get(f"http://127.0.0.1:{port}/openapi.json").json()
        keyless = httpx.get(f"http://127.0.0.1:{port}/assets")
    finally:
        process.terminate()
        process.wait(timeout=30)

    assert health.json()["database"] == "ok"  # migrated by the command
    assert schema["info"]["title"] == "assetflow"
    assert keyless.status_code == 401


def test_several_workers_need_a_prefect_server(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PREFECT_API_URL": "",
        "ASSETFLOW_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
    }
    done = subprocess.run(
        _command("--workers", "2"), env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert "--workers above 1 needs PREFECT_API_URL" in done.stderr

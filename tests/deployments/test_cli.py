"""The command line: the read commands start without Prefect, and print JSON when asked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest
from typer.testing import CliRunner

from deployments.cli import app
from tests.fixtures.recorded import record_ready_asset

# What the read commands must not load: seconds of start-up for nothing.
HEAVY = ("prefect", "yt_dlp", "dask", "numpy", "PIL")


def _modules_loaded_by(args: list[str], database_url: str) -> set[str]:
    """Run ``assetflow ARGS`` in a fresh interpreter; return the top-level modules it loaded."""
    script = (
        "import json, sys\n"
        "from deployments.cli import app\n"
        "try:\n"
        f"    app({args!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(json.dumps(sorted({name.split('.')[0] for name in sys.modules})))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "ASSETFLOW_DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        check=True,
    )
    return set(json.loads(done.stdout.splitlines()[-1]))


@pytest.mark.parametrize("command", [["ls"], ["show", "{asset}"], ["job", "{job}"], ["--help"]])
def test_a_read_command_loads_neither_prefect_nor_the_media_libraries(
    sqlite_url: str, command: list[str]
) -> None:
    asset_id, job_id = record_ready_asset(sqlite_url, project="cli")
    args = [part.format(asset=asset_id, job=job_id) for part in command]

    loaded = _modules_loaded_by(args, sqlite_url)

    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


def _json_of(args: list[str], database_url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("ASSETFLOW_DATABASE_URL", database_url)
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_ls_and_show_print_json_of_the_documented_shape(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    asset_id, job_id = record_ready_asset(sqlite_url, project="cli")

    listed = _json_of(["ls", "--json"], sqlite_url, monkeypatch)
    shown = _json_of(["show", str(asset_id), "--json"], sqlite_url, monkeypatch)
    job = _json_of(["job", str(job_id)], sqlite_url, monkeypatch)

    [row] = listed
    assert (row["id"], row["project"], row["identifier"], row["status"]) == (
        str(asset_id),
        "cli",
        "photo-1",
        "ready",
    )
    assert {key: shown[key] for key in row} == row  # show extends the ls row
    [original] = shown["formats"]
    [file_set] = original["file_sets"]
    [file] = file_set["files"]
    assert (original["name"], file_set["bucket"], file["name"], file["width"]) == (
        "ORIGINAL",
        "media",
        "a.jpg",
        4,
    )
    assert [j["id"] for j in shown["jobs"]] == [str(job_id)]
    assert (job["id"], job["status"], job["asset_id"]) == (str(job_id), "completed", str(asset_id))


def test_an_asset_store_that_is_not_migrated_gets_a_sentence(
    tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASSETFLOW_DATABASE_URL", f"sqlite:///{tmp_path}/empty.db")

    result = CliRunner().invoke(app, ["ls"])

    assert result.exit_code == 2
    assert "assetflow db upgrade" in result.stderr and "Traceback" not in result.output

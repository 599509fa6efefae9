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
from models.db import make_engine
from tests.fixtures.recorded import record_ready_asset
from tests.fixtures.synthetic import load_images

# What the read commands must not load: seconds of start-up for nothing. The
# settings object (pydantic-settings) too: they need only the database URL.
HEAVY = ("prefect", "yt_dlp", "dask", "numpy", "PIL", "imagehash", "pydantic_settings")


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


@pytest.mark.parametrize(
    "command",
    [
        ["ls"],
        ["show", "{asset}"],
        ["job", "{job}"],
        ["similar", "{asset}"],
        ["keys", "list"],
        ["--help"],
    ],
)
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


def test_ls_pages_on_with_the_cursor_it_prints(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = make_engine(sqlite_url)
    load_images(engine, [1, 2, 3], project="paged")
    engine.dispose()
    monkeypatch.setenv("ASSETFLOW_DATABASE_URL", sqlite_url)

    first = CliRunner().invoke(app, ["ls", "--limit", "2", "--json"])
    [hint] = first.stderr.splitlines()
    cursor = hint.removeprefix("next page: assetflow ls --cursor ")
    rest = CliRunner().invoke(app, ["ls", "--limit", "2", "--json", "--cursor", cursor])

    shown = [row["identifier"] for row in json.loads(first.stdout) + json.loads(rest.stdout)]
    assert shown == ["synthetic-00000002", "synthetic-00000001", "synthetic-00000000"]
    assert rest.stderr == ""


@pytest.mark.parametrize(
    ("args", "sentence"),
    [
        (["ls", "--cursor", "nonsense"], "is not a cursor of this listing"),
        (["ls", "--status", "done"], "'done' is not one of pending, processing"),
        (["similar", "{asset}", "--max-distance", "16"], "reaches at most 15 bits"),
    ],
)
def test_a_bad_listing_or_search_option_gets_a_sentence(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch, args: list[str], sentence: str
) -> None:
    asset_id, _ = record_ready_asset(sqlite_url, project="cli")
    monkeypatch.setenv("ASSETFLOW_DATABASE_URL", sqlite_url)

    result = CliRunner().invoke(app, [arg.format(asset=asset_id) for arg in args])

    assert result.exit_code == 2
    assert sentence in " ".join(result.stderr.split()) and "Traceback" not in result.output

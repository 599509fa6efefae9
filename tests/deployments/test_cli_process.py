"""``assetflow`` run as a user runs it: a process in an empty directory, on the embedded defaults.

No ``ASSETFLOW_*`` setting names a store or a database, so the commands use
``./data/objects`` and ``./data/assetflow.db`` under the working directory.
Two settings say which sources may be read (the test's HTTP server is on
127.0.0.1, which is refused by default, and one local file), and Prefect's
client points at the session's server rather than starting its own.

The tests run in order, on one working directory: the store is migrated,
then filled, then read.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.audio_media import noisy_clip, structured_audio
from tests.fixtures.http_server import LocalHTTPServer, ServeFile, Status
from tests.fixtures.images import save_jpeg, scene
from tests.fixtures.prefect_server import PrefectServer

ASSETFLOW = Path(sys.executable).with_name("assetflow")
CHECKOUT = Path(__file__).resolve().parents[2]
ASSET_ROW = {
    "project", "id", "identifier", "status", "kind", "content_type", "title", "description",
    "category", "tags", "external_id", "source", "original_filename", "placeholder", "error",
    "created_at", "updated_at",
}  # fmt: skip
JOB_VIEW = {
    "id", "status", "progress", "asset_id", "error", "flow_run_id", "idempotency_key",
    "created_at", "updated_at",
}  # fmt: skip


@dataclass
class Workspace:
    """A directory a user runs ``assetflow`` in, and what the tests made there."""

    cwd: Path
    env: dict[str, str]
    ids: dict[str, str] = field(default_factory=dict)

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run ``assetflow ARGS`` there and return how it ended."""
        return subprocess.run(
            [str(ASSETFLOW), *args],
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    def json(self, *args: str, exit_code: int = 0) -> Any:
        """Run a command that prints JSON; check its exit code and return the document."""
        done = self.run(*args)
        assert done.returncode == exit_code, (args, done.returncode, done.stdout, done.stderr)
        return json.loads(done.stdout)


@pytest.fixture(scope="module")
def workspace(
    tmp_path_factory: pytest.TempPathFactory, prefect_api: PrefectServer
) -> Iterator[Workspace]:
    cwd = tmp_path_factory.mktemp("user")
    env = {name: value for name, value in os.environ.items() if not name.startswith("ASSETFLOW_")}
    env |= prefect_api.env() | {
        "PYTHONPATH": str(CHECKOUT),
        "ASSETFLOW_ALLOWED_NETWORKS": "127.0.0.1/32",
        "ASSETFLOW_LOCAL_ROOTS": str(cwd / "photos"),
    }
    yield Workspace(cwd, env)


def _serve(http_server: LocalHTTPServer, path: Path, content_type: str) -> str:
    return http_server.route(f"/{uuid.uuid4().hex}/{path.name}", ServeFile(path, content_type))


def test_a_store_not_migrated_says_so_and_db_upgrade_makes_it(workspace: Workspace) -> None:
    before = workspace.run("ls")
    upgraded = workspace.run("db", "upgrade")
    listed = workspace.json("ls", "--json")

    assert before.returncode == 2, before
    assert "assetflow db upgrade" in before.stderr and "Traceback" not in before.stderr
    assert (upgraded.returncode, upgraded.stdout) == (0, "database is up to date\n")
    assert (workspace.cwd / "data" / "assetflow.db").is_file()
    assert listed == []


def test_ingest_records_the_source_in_the_data_directory(
    workspace: Workspace, http_server: LocalHTTPServer
) -> None:
    photos = workspace.cwd / "photos"
    photos.mkdir()
    photo = save_jpeg(scene(640, 480, seed=21), photos / "harbour.jpg", quality=92)
    # The same picture saved again at another quality: other bytes, a near duplicate.
    again = save_jpeg(scene(640, 480, seed=21), photos / "harbour-small.jpg", quality=60)
    url = _serve(http_server, photo, "image/jpeg")
    args = ("--project", "news", "--title", "Harbour", "--tag", "sea", "--tag", "dawn")

    ingested = workspace.json("ingest", url, *args, "--identifier", "harbour", "--json")
    tree = workspace.run("ingest", "./photos/harbour-small.jpg", "--project", "news")

    assert set(ingested) == {"job_id", "asset_id", "status", "error", "existing_asset_id"}
    assert (ingested["status"], ingested["error"]) == ("completed", None), ingested
    assert tree.returncode == 0, tree.stderr
    assert tree.stdout.startswith("asset ") and "[ready]  image  image/jpeg" in tree.stdout
    assert "ORIGINAL" in tree.stdout and "SIZE_320" in tree.stdout
    workspace.ids |= {"photo": ingested["asset_id"], "photo_job": ingested["job_id"]}
    workspace.ids["again"] = tree.stdout.split()[1]
    assert again.stat().st_size != photo.stat().st_size


def test_a_failed_ingest_says_why_and_exits_1(
    workspace: Workspace, http_server: LocalHTTPServer
) -> None:
    gone = http_server.route(f"/{uuid.uuid4().hex}/gone.jpg", Status(404))

    missing = workspace.run("ingest", gone)

    assert missing.returncode == 1 and "Traceback" not in missing.stderr
    # Prefect's log lines come first on stderr; the sentence is the last line.
    assert missing.stderr.splitlines()[-1] == f"error: {gone} answered 404: nothing is there"


def test_ls_show_and_job_read_back_what_was_ingested(workspace: Workspace) -> None:
    photo = workspace.ids["photo"]

    listed = workspace.json("ls", "--project", "news", "--json")
    shown = workspace.json("show", photo, "--json")
    job = workspace.json("job", workspace.ids["photo_job"])
    unknown = workspace.run("show", str(uuid.uuid4()))

    assert [row["id"] for row in listed] == [workspace.ids["again"], photo]  # newest first
    assert all(set(row) == ASSET_ROW for row in listed)
    harbour = listed[1]
    assert (harbour["title"], harbour["tags"], harbour["kind"]) == (
        "Harbour",
        ["sea", "dawn"],
        "image",
    )
    assert {key: shown[key] for key in ASSET_ROW} == harbour
    formats = {f["name"]: f for f in shown["formats"]}
    assert {"ORIGINAL", "SIZE_160", "SIZE_320", "SIZE_640"} <= set(formats)
    [original] = formats["ORIGINAL"]["file_sets"][0]["files"]
    assert (original["content_type"], original["width"], original["height"]) == (
        "image/jpeg",
        640,
        480,
    )
    assert [j["id"] for j in shown["jobs"]] == [workspace.ids["photo_job"]]
    # Every file of every format is in the filesystem store under ./data/objects.
    objects = workspace.cwd / "data" / "objects"
    for file_set in (file_set for f in shown["formats"] for file_set in f["file_sets"]):
        assert (file_set["backend"], file_set["bucket"]) == ("file", str(objects))
        for file in file_set["files"]:
            assert (objects / file["key"]).stat().st_size == file["size"], file
    assert set(job) == JOB_VIEW and (job["status"], job["asset_id"]) == ("completed", photo)
    assert unknown.returncode == 1 and unknown.stderr.startswith("error: no asset ")


def test_similar_finds_the_near_duplicate(workspace: Workspace) -> None:
    found = workspace.json("similar", workspace.ids["photo"], "--json")
    text = workspace.run("similar", workspace.ids["again"])

    assert [row["asset_id"] for row in found] == [workspace.ids["again"]]
    assert set(found[0]) == {"asset_id", "distance"} and found[0]["distance"] <= 12
    assert text.stdout == f"{workspace.ids['photo']}  {found[0]['distance']:2d} bits\n"


def test_match_finds_the_track_a_clip_was_cut_from(
    workspace: Workspace, http_server: LocalHTTPServer, tmp_path: Path
) -> None:
    track = structured_audio(tmp_path / "song.wav", seed=41, duration_s=25, sample_rate=11025)
    song = workspace.json("ingest", _serve(http_server, track, "audio/wav"), "--json")
    clip = noisy_clip(track, tmp_path / "clip.mp3", start_s=9.0, duration_s=10)
    stranger = structured_audio(tmp_path / "other.wav", seed=42, duration_s=12, sample_rate=11025)

    matches = workspace.json("match", str(clip), "--json")
    nothing = workspace.run("match", str(stranger))
    unlike = workspace.run("similar", song["asset_id"])

    assert matches and set(matches[0]) == {"asset_id", "offset_s", "score"}
    assert matches[0]["asset_id"] == song["asset_id"]
    assert matches[0]["offset_s"] == pytest.approx(9.0, abs=1.0)
    assert (nothing.returncode, nothing.stdout) == (1, "no match\n")
    assert (unlike.returncode, unlike.stdout) == (0, "no similar images\n")  # not an image

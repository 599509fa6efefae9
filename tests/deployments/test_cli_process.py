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
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from prefect import get_client

from deployments.crash_detection import AUTOMATION_NAME
from deployments.serve import INGEST_DEPLOYMENT
from tests.deployments.conftest import ASSETFLOW
from tests.fixtures.audio_media import noisy_clip, structured_audio
from tests.fixtures.http_server import LocalHTTPServer, ServeFile, Status
from tests.fixtures.images import save_jpeg, scene
from tests.fixtures.ports import free_port
from tests.fixtures.prefect_server import PrefectServer

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

    def run(
        self, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run ``assetflow ARGS`` there (in ``env``, else the workspace's); return how it ended."""
        return subprocess.run(
            [str(ASSETFLOW), *args],
            cwd=self.cwd,
            env=self.env if env is None else env,
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


def test_submit_and_deploy_without_a_prefect_server_say_so_in_one_sentence(
    workspace: Workspace,
) -> None:
    closed = f"http://127.0.0.1:{free_port()}/api"  # nothing listens there
    unreachable = {**workspace.env, "PREFECT_API_URL": closed, "PREFECT_CLIENT_MAX_RETRIES": "0"}
    unset = {name: value for name, value in workspace.env.items() if name != "PREFECT_API_URL"}

    commands = {"submit": ("submit", "https://example.com/a.jpg"), "deploy": ("deploy",)}

    # At once: each loads Prefect, seconds of CPU on a 2-core machine.
    with ThreadPoolExecutor(max_workers=4) as pool:
        ended = {
            (where, command): pool.submit(workspace.run, *args, env=env)
            for where, env in (("unreachable", unreachable), ("unset", unset))
            for command, args in commands.items()
        }

    for (where, command), running in ended.items():
        done = running.result()
        assert "Traceback" not in done.stderr, (where, command, done.stderr)
        last = done.stderr.splitlines()[-1]
        if where == "unreachable":
            assert done.returncode == 2, (command, done)
            assert last.startswith(f"error: the Prefect API at {closed} failed: "), last
            assert last.endswith("is the server up?"), last
        else:  # a temporary server would keep no deployment: refused before it starts
            assert done.returncode == 1, (command, done)
            assert last.startswith("error: no Prefect server is configured: set PREFECT_API_URL"), (
                last
            )
        assert done.stdout == ""


def test_job_of_an_unknown_id_says_so(workspace: Workspace) -> None:
    unknown = str(uuid.uuid4())

    done = workspace.run("job", unknown)

    assert (done.returncode, done.stdout, done.stderr) == (1, "", f"error: no job {unknown}\n")


def _automations() -> list[Any]:
    with get_client(sync_client=True) as client:
        return client.read_automations_by_name(AUTOMATION_NAME)


def test_deploy_applies_the_deployments_and_a_second_deploy_updates_crash_detection(
    workspace: Workspace, prefect_server: None
) -> None:
    pool = f"pool-{uuid.uuid4().hex[:8]}"
    env = {**workspace.env, "ASSETFLOW_WORK_POOL": pool}

    first = workspace.run("deploy", env=env | {"ASSETFLOW_CRASH_AFTER_SILENT_S": "300"})
    created = _automations()
    again = workspace.run(
        "deploy", "--no-hint", env=env | {"ASSETFLOW_CRASH_AFTER_SILENT_S": "600"}
    )
    updated = _automations()

    assert first.returncode == 0, first.stderr
    # Prefect's table of what was applied, then ours.
    assert first.stdout.endswith(
        f"6 deployments on work pool {pool!r}\n"
        f"start a worker with:  uv run prefect worker start --pool {pool}\n"
    ), first.stdout
    assert "ingest-asset/ingest-asset" in first.stdout
    assert again.returncode == 0, again.stderr
    assert again.stdout.endswith(f"\n6 deployments on work pool {pool!r}\n")  # --no-hint
    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name(INGEST_DEPLOYMENT)
    assert deployment.work_pool_name == pool
    # One automation, changed in place: not a second one beside the first.
    assert [a.id for a in updated] == [a.id for a in created] and len(created) == 1
    assert created[0].trigger.within.total_seconds() == 300
    assert updated[0].trigger.within.total_seconds() == 600


def test_submit_prints_the_job_and_a_resubmit_with_its_key_is_the_same_job(
    workspace: Workspace, prefect_server: None
) -> None:
    key = f"cms-{uuid.uuid4().hex}"
    source = "https://example.com/reports/q3.pdf?X-Amz-Signature=s3cr3t"

    first = workspace.json("submit", source, "--project", "queued", "--key", key)
    again = workspace.json("submit", source, "--project", "queued", "--key", key)
    polled = workspace.json("job", first["id"])

    assert set(first) == JOB_VIEW
    assert (first["status"], first["progress"], first["idempotency_key"]) == ("pending", 0, key)
    assert again == first
    assert (polled["status"], polled["flow_run_id"]) == ("pending", first["flow_run_id"])
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(uuid.UUID(first["flow_run_id"]))
        deployment = client.read_deployment(run.deployment_id)  # type: ignore[arg-type]
        # Nothing serves the deployment here: the run must not wait for a later service.
        client.delete_flow_run(run.id)
    assert deployment.name == "ingest-asset"
    assert run.parameters["job_id"] == first["id"]
    assert "s3cr3t" not in str(run.parameters)

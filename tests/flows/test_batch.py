"""The batch flow end to end: served or written manifests, the S3 server, each database."""

from __future__ import annotations

import csv
import io
import json
import os
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from prefect import get_client
from prefect.artifacts import Artifact
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.client.schemas.objects import StateType, TaskRun
from sqlalchemy import func, select
from sqlmodel import Session

from core.requests import AssetRequest
from core.settings import Settings
from flows.batch import (
    ARTIFACT_KEY,
    BatchSummary,
    ItemStatus,
    batch_ingest,
)
from flows.ingest import ingest
from flows.run_states import result_of
from models.db import make_engine, new_session
from models.tables import (
    Asset,
    AssetStatus,
    Blob,
    DropFolder,
    File,
    IngestJob,
    JobStatus,
    Project,
)
from tests.fixtures.http_server import LocalHTTPServer, Route, ServeFile, Status, Together
from tests.fixtures.prefect_server import PrefectServer
from tests.fixtures.seaweed import S3Server

FIELDS = ["source", "project", "identifier", "title", "tags"]


def _serve(http_server: LocalHTTPServer, directory: Path, name: str, body: bytes) -> str:
    path = directory / f"{uuid.uuid4().hex}-{name}"
    path.write_bytes(body)
    return http_server.route(f"/{uuid.uuid4().hex}/{name}", ServeFile(path, "text/plain"))


def _documents_manifest(
    http_server: LocalHTTPServer, tmp_path: Path, media_root: Path, name: str, count: int
) -> Path:
    """Serve ``count`` distinct text documents and list them in a JSON Lines manifest."""
    lines = [
        json.dumps(
            {"source": _serve(http_server, tmp_path, f"{name}{i}.txt", f"{name} {i}\n".encode())}
        )
        for i in range(count)
    ]
    manifest = media_root / f"{name}.jsonl"
    manifest.write_text("\n".join(lines) + "\n")
    return manifest


def _write_csv(path: Path, items: list[dict[str, str]], *, broken_at: int) -> Path:
    """Write a CSV manifest with a row of the wrong width as data row ``broken_at``."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=FIELDS, lineterminator="\n")
    writer.writeheader()
    for number, item in enumerate(items, start=1):
        if number == broken_at:
            out.write("only,three,fields\n")
        writer.writerow(item)
    path.write_text(out.getvalue())
    return path


def _write_jsonl(path: Path, items: list[dict[str, str]], *, broken_at: int) -> Path:
    lines = []
    for number, item in enumerate(items, start=1):
        if number == broken_at:
            lines.append('{"source": "http://unterminated')
        lines.append(json.dumps(item | {"tags": item["tags"].split(";") if item["tags"] else []}))
    path.write_text("\n".join(lines) + "\n")
    return path


def _count(session: Session, table: type, *where: object) -> int:
    statement = select(func.count()).select_from(table)
    for condition in where:
        statement = statement.where(condition)  # type: ignore[arg-type]
    session.expire_all()
    return int(session.execute(statement).scalar_one())


def _latest_artifact_rows() -> list[dict[str, object]]:
    artifact = Artifact.get(ARTIFACT_KEY)
    assert artifact is not None
    data = artifact.data
    return json.loads(data) if isinstance(data, str) else data  # type: ignore[return-value]


# Data row 3 is broken: line 4 of the CSV (after its header), line 3 of the JSON Lines.
@pytest.mark.parametrize(
    ("write", "broken_line"), [(_write_csv, 4), (_write_jsonl, 3)], ids=["csv", "jsonl"]
)
def test_a_manifest_ingests_new_items_skips_known_ones_and_reports_bad_lines(
    write: object,
    broken_line: int,
    pipeline_settings: Settings,
    session: Session,
    http_server: LocalHTTPServer,
    media_root: Path,
    tmp_path: Path,
) -> None:
    good = [
        _serve(http_server, tmp_path, f"doc{i}.txt", f"document {i}\n".encode()) for i in range(3)
    ]
    missing = http_server.route(f"/{uuid.uuid4().hex}/gone.txt", Status(404))
    known = _serve(http_server, tmp_path, "known.txt", b"ingested before the batch\n")
    before = ingest(AssetRequest(source=known, project="press", identifier="known-1"))
    assert before.status == JobStatus.COMPLETED, before.error
    items = [
        {"source": good[0], "project": "press", "identifier": "a", "title": "A", "tags": "x;y"},
        {"source": good[1], "project": "press", "identifier": "b", "title": "", "tags": "z"},
        {"source": missing, "project": "press", "identifier": "gone", "title": "", "tags": ""},
        {"source": known, "project": "press", "identifier": "known-1", "title": "", "tags": ""},
        {"source": good[2], "project": "", "identifier": "", "title": "", "tags": ""},
    ]
    manifest = write(media_root / "batch.manifest", items, broken_at=3)  # type: ignore[operator]

    state = batch_ingest(str(manifest), concurrency=2, return_state=True)

    assert state.is_completed()
    summary: BatchSummary = state.result()
    assert (summary.completed, summary.failed, summary.skipped) == (3, 2, 1)
    by_identifier = {row.identifier: row for row in summary.rows}
    assert by_identifier["known-1"].status == ItemStatus.SKIPPED
    assert by_identifier["known-1"].asset_id == before.asset_id
    assert by_identifier["gone"].status == ItemStatus.FAILED
    assert "404" in str(by_identifier["gone"].error)
    unreadable = by_identifier[None]
    assert unreadable.status == ItemStatus.FAILED and str(unreadable.error).startswith(
        f"line {broken_line}: "
    )
    assert by_identifier[good[2]].status == ItemStatus.COMPLETED  # identifier = the source

    press = session.execute(select(Project).where(Project.name == "press")).scalar_one()
    a = session.get_one(Asset, by_identifier["a"].asset_id)
    assert (a.status, a.title, a.tags, a.project_id) == (
        AssetStatus.READY,
        "A",
        ["x", "y"],
        press.id,
    )
    assert _count(session, Asset, Asset.status == AssetStatus.READY) == 4
    assert _count(session, Asset, Asset.status == AssetStatus.FAILED) == 1
    default_asset = session.get_one(Asset, by_identifier[good[2]].asset_id)
    assert default_asset.project_id != press.id

    rows = _latest_artifact_rows()
    assert [(row["identifier"], row["status"]) for row in rows] == [
        (row.identifier, str(row.status)) for row in summary.rows
    ]


def test_a_batch_whose_every_item_failed_ends_failed_with_the_first_sentence(
    pipeline_settings: Settings, http_server: LocalHTTPServer, media_root: Path
) -> None:
    gone = [http_server.route(f"/{uuid.uuid4().hex}/gone.txt", Status(404)) for _ in range(2)]
    manifest = media_root / "gone.csv"
    manifest.write_text("source\n" + "\n".join(gone) + "\n")

    state = batch_ingest(str(manifest), return_state=True)

    summary: BatchSummary = result_of(state)
    assert (summary.completed, summary.failed) == (0, 2)
    flow_run_id = state.state_details.flow_run_id
    assert flow_run_id is not None
    with get_client(sync_client=True) as client:
        recorded = client.read_flow_run(flow_run_id).state
    assert recorded is not None and recorded.type == StateType.FAILED
    assert recorded.message == f"all 2 items failed; the first: {summary.rows[0].error}"
    assert "404" in str(summary.rows[0].error)


def test_an_s3_drop_folder_is_ingested_and_a_second_run_skips_it_all(
    pipeline_settings: Settings, session: Session, s3_server: S3Server, s3_bucket: str
) -> None:
    client = s3_server.client()
    for key in ("drop/a.txt", "drop/b.txt", "drop/sub/c.txt"):
        body = f"dropped {key}\n".encode()
        client.put_object(s3_bucket, key, io.BytesIO(body), len(body))
    folder = f"s3://{s3_bucket}/drop/"

    first = batch_ingest(folder, project="inbox")
    again = batch_ingest(folder, project="inbox")

    assert (first.completed, first.failed, first.skipped) == (3, 0, 0)
    assert (again.completed, again.failed, again.skipped) == (0, 0, 3)
    identifiers = session.execute(select(Asset.identifier, Asset.status)).all()
    assert sorted(identifiers) == [
        ("drop/a.txt", AssetStatus.READY),
        ("drop/b.txt", AssetStatus.READY),
        ("drop/sub/c.txt", AssetStatus.READY),
    ]
    assert {row.asset_id for row in again.rows} == {row.asset_id for row in first.rows}
    # The folder is recorded once, and every asset that came through it names it.
    folders = session.execute(select(DropFolder.id, DropFolder.location)).all()
    assert [location for _, location in folders] == [folder]
    stamped = session.execute(select(Asset.drop_folder_id)).scalars().all()
    assert stamped == [folders[0][0]] * 3


# The 200-item batch: 25 task runs of 8 items, 8 task runs in flight.
MANY, IN_FLIGHT, PER_TASK = 200, 8, 8
# How long equal items wait for each other at the server before the test calls it a miss.
MEET_TIMEOUT_S = 30.0


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_two_hundred_items_at_concurrency_eight_leave_no_duplicate_blob(
    pipeline_settings: Settings,
    session: Session,
    http_server: LocalHTTPServer,
    s3_server: S3Server,
    s3_bucket: str,
    media_root: Path,
    tmp_path: Path,
) -> None:
    # Item i is the (i % 8)th of task run i // 8. The 8 task runs in flight together
    # (0-7, 8-15, 16-23) fetch their nth items at the same moment: the server holds
    # those 8 requests until all have come, and serves them equal bytes, which then
    # race to be stored and recorded. Items n and n + 4 of a task run share bytes too
    # (one after the other), and the last task run (24) repeats earlier bytes alone.
    groups = (MANY // PER_TASK) // IN_FLIGHT
    meetings = {
        (group, n): threading.Barrier(IN_FLIGHT, timeout=MEET_TIMEOUT_S)
        for group in range(groups)
        for n in range(PER_TASK)
    }
    lines = []
    for i in range(MANY):
        run, n = divmod(i, PER_TASK)
        together = run < groups * IN_FLIGHT
        group = run // IN_FLIGHT if together else 0
        body = tmp_path / f"n{i}.txt"
        body.write_bytes(f"note {group}-{n % 4}\n".encode())
        route: Route = ServeFile(body, "text/plain")
        if together:
            route = Together(meetings[group, n], route)
        url = http_server.route(f"/{uuid.uuid4().hex}/n{i}.txt", route)
        lines.append(json.dumps({"source": url, "identifier": f"note-{i}"}))
    distinct = groups * 4
    manifest = media_root / "many.jsonl"
    manifest.write_text("\n".join(lines) + "\n")

    started = time.monotonic()
    summary = batch_ingest(str(manifest), concurrency=IN_FLIGHT, items_per_task=PER_TASK)
    elapsed = time.monotonic() - started

    missed = [meeting for meeting, barrier in meetings.items() if barrier.broken]
    assert not missed, f"equal items not in flight together: {missed}"
    assert (summary.completed, summary.failed, summary.skipped) == (MANY, 0, 0), [
        row.error for row in summary.rows if row.error
    ]
    assert _count(session, Asset, Asset.status == AssetStatus.READY) == MANY
    assert _count(session, File) == MANY
    assert _count(session, Blob) == distinct
    assert len(list(s3_server.client().list_objects(s3_bucket, recursive=True))) == distinct
    print(f"200 items at concurrency 8: {elapsed:.1f} s, {1000 * elapsed / MANY:.0f} ms per item")


def _wait_until(condition: Callable[[], bool], *, timeout_s: float, what: str) -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up after {timeout_s:.0f} s waiting for {what}")
        time.sleep(0.05)


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_an_s3_outage_mid_batch_fails_items_clearly_and_a_rerun_completes_them(
    pipeline_settings: Settings,
    session: Session,
    http_server: LocalHTTPServer,
    s3_server: S3Server,
    s3_bucket: str,
    media_root: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # An outage longer than the window: items fail (tests/faults has one shorter than it).
    monkeypatch.setenv("ASSETFLOW_OUTAGE_WINDOW_S", "2")
    count, before_outage = 12, 3
    manifest = _documents_manifest(http_server, tmp_path, media_root, "fault", count)
    engine = make_engine(pipeline_settings.database_url)

    def assets(status: AssetStatus) -> int:
        with new_session(engine) as watch:
            return _count(watch, Asset, Asset.status == status)

    # The batch runs in a thread; this thread takes S3 down once a few items are in,
    # and up again once an item has run out of retries. (weed dies with the thread
    # that started it, so the test's own thread must be the one to restart it.)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="batch") as pool:
        running = pool.submit(batch_ingest, str(manifest), concurrency=2)
        try:
            _wait_until(
                lambda: assets(AssetStatus.READY) >= before_outage, timeout_s=120, what="items"
            )
            s3_server.stop()
            _wait_until(lambda: assets(AssetStatus.FAILED) >= 1, timeout_s=120, what="a failure")
        finally:
            if s3_server.process is None:
                s3_server.start()
            engine.dispose()
        first = running.result(timeout=300)

    assert first.completed + first.failed == count and first.failed >= 1
    for row in first.rows:
        if row.status == ItemStatus.FAILED:
            assert f"S3 at http://{s3_server.endpoint}/{s3_bucket}" in str(row.error), row.error
    # No file row points at an object that is not there.
    client = s3_server.client()
    for key in session.execute(select(File.key)).scalars():
        client.stat_object(s3_bucket, key)

    again = batch_ingest(str(manifest), concurrency=2)

    assert (again.completed, again.failed, again.skipped) == (first.failed, 0, first.completed)
    assert _count(session, Asset, Asset.status == AssetStatus.READY) == count
    assert _count(session, Asset) == count
    assert _count(session, Blob) == count == _count(session, File)


def test_items_fan_out_on_a_dask_cluster_when_one_is_configured(
    pipeline_settings: Settings,
    session: Session,
    http_server: LocalHTTPServer,
    media_root: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from distributed import LocalCluster

    manifest = _documents_manifest(http_server, tmp_path, media_root, "dask", 4)
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0"
    ) as cluster:
        monkeypatch.setenv("ASSETFLOW_DASK_ADDRESS", cluster.scheduler_address)
        summary = batch_ingest(str(manifest))
        # The tasks each Dask worker executed (the workers are in this process here).
        ran_on_dask = [worker.state.executed_count for worker in cluster.workers.values()]

    assert (summary.completed, summary.failed, summary.skipped) == (4, 0, 0)
    assert sum(ran_on_dask) == 4, ran_on_dask
    assert _count(session, Asset, Asset.status == AssetStatus.READY) == 4


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_items_fan_out_to_dask_worker_processes(
    pipeline_settings: Settings,
    session: Session,
    http_server: LocalHTTPServer,
    prefect_api: PrefectServer,
    media_root: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from distributed import Client, LocalCluster

    manifest = _documents_manifest(http_server, tmp_path, media_root, "procs", 2)
    # What a worker process knows comes from its environment (and the task's parameters).
    monkeypatch.setenv("PREFECT_API_URL", prefect_api.api_url)
    with (
        LocalCluster(
            n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
    ):
        monkeypatch.setenv("ASSETFLOW_DASK_ADDRESS", cluster.scheduler_address)
        summary = batch_ingest(str(manifest))
        executed = client.run(lambda dask_worker: (os.getpid(), dask_worker.state.executed_count))

    assert (summary.completed, summary.failed, summary.skipped) == (2, 0, 0), [
        row.error for row in summary.rows
    ]
    assert sum(count for _, count in executed.values()) == 2, executed
    assert os.getpid() not in {pid for pid, _ in executed.values()}
    assert _count(session, Asset, Asset.status == AssetStatus.READY) == 2


def test_the_cli_prints_the_summary_and_exits_1_when_an_item_failed(
    pipeline_settings: Settings, http_server: LocalHTTPServer, media_root: Path, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from deployments.cli import app

    good = _serve(http_server, tmp_path, "cli.txt", b"from the command line\n")
    gone = http_server.route(f"/{uuid.uuid4().hex}/gone.txt", Status(404))
    manifest = media_root / "cli.csv"
    manifest.write_text(f"source,identifier\n{good},cli-good\n{gone},cli-gone\n")

    as_json = CliRunner().invoke(app, ["batch", str(manifest), "--json"])
    again = CliRunner().invoke(app, ["batch", str(manifest), "--concurrency", "1"])

    assert as_json.exit_code == 1, as_json.output
    summary = BatchSummary.model_validate_json(as_json.stdout)
    assert (summary.completed, summary.failed, summary.skipped) == (1, 1, 0)
    assert again.exit_code == 1
    assert "2 items: 0 completed, 1 failed, 1 skipped" in again.stdout
    assert "cli-gone" in again.stdout and "404" in again.stdout


def _task_run_names(flow_run_id: uuid.UUID, *, expected: int) -> list[str]:
    """Return the names of the flow run's task runs once the server has recorded them all."""
    with get_client(sync_client=True) as client:
        flow_runs = FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
        runs: list[TaskRun] = []

        def recorded() -> bool:
            # The server records task runs from their events, a moment after they end.
            runs[:] = client.read_task_runs(flow_run_filter=flow_runs)
            return len(runs) >= expected and all(run.state and run.state.is_final() for run in runs)

        _wait_until(recorded, timeout_s=60, what=f"{expected} task runs")
    return sorted(run.name for run in runs)


def test_items_share_task_runs_and_their_steps_run_inline(
    pipeline_settings: Settings,
    session: Session,
    http_server: LocalHTTPServer,
    media_root: Path,
    tmp_path: Path,
) -> None:
    manifest = _documents_manifest(http_server, tmp_path, media_root, "shared", 5)

    state = batch_ingest(str(manifest), concurrency=2, items_per_task=2, return_state=True)

    summary: BatchSummary = state.result()
    assert (summary.completed, summary.failed) == (5, 0)
    # Five items, two at a time, at most two per task run: no fetch or store task runs.
    flow_run_id = state.state_details.flow_run_id
    assert flow_run_id is not None
    assert _task_run_names(flow_run_id, expected=3) == ["line-5", "lines-1-2", "lines-3-4"]
    assert _count(session, IngestJob, IngestJob.status == JobStatus.COMPLETED) == 5

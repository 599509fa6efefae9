"""The asset store's PostgreSQL restarted or gone mid-batch: a real cluster, really stopped."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from prefect import get_client
from sqlalchemy import func, select
from sqlmodel import col

from core.errors import DatabaseUnavailable
from core.settings import Settings
from flows.batch import BatchRow, BatchSummary, ItemStatus, batch_flow
from flows.hooks import reconcile_jobs
from models.db import engine_for, make_engine, new_session, transact
from models.gc import collect_garbage
from models.tables import Asset, AssetStatus, Blob, File, IngestJob, JobStatus, utcnow
from storage import open_store
from tests.faults.cluster import Cluster, photo_manifest
from tests.fixtures.ports import free_port

# How long the database is down in the restart test: what a `pg_ctl restart` takes.
DOWN_S = 5.0
ITEMS = 12


def _run_batch(manifest: Path, on_row: Callable[[BatchRow], None] | None = None) -> BatchSummary:
    state = batch_flow(on_row)(str(manifest), concurrency=4, items_per_task=2, return_state=True)
    summary: BatchSummary = state.result()
    return summary


def _graph_counts(settings: Settings) -> dict[str, int]:
    """Count what a user would check after a fault: stuck rows, unfinished jobs, blobs."""
    engine = engine_for(settings)
    try:
        with new_session(engine) as session:

            def count(statement: object) -> int:
                return int(session.execute(statement).scalar_one())  # type: ignore[call-overload]

            return {
                "ready": count(select(func.count()).where(col(Asset.status) == AssetStatus.READY)),
                "processing": count(
                    select(func.count()).where(col(Asset.status) == AssetStatus.PROCESSING)
                ),
                "unfinished_jobs": count(
                    select(func.count()).where(
                        col(IngestJob.status).in_([JobStatus.PENDING, JobStatus.RUNNING])
                    )
                ),
                "blobs": count(select(func.count()).select_from(Blob)),
                "contents": count(select(func.count(func.distinct(File.sha256)))),
            }
    finally:
        engine.dispose()


def _collect(settings: Settings) -> tuple[int, int, int]:
    """Collect garbage with no grace; return (objects, collected, missing)."""
    engine = engine_for(settings)
    try:
        report = collect_garbage(engine, open_store(settings), grace_s=0)
    finally:
        engine.dispose()
    return report.objects, report.collected, report.missing


def test_a_database_restart_mid_batch_costs_no_item(
    cluster: Cluster,
    cluster_url: str,
    fault_settings: Callable[..., Settings],
    media_root: Path,
) -> None:
    settings = fault_settings(database_url=cluster_url, outage_window_s=60.0)
    manifest = photo_manifest(media_root, ITEMS)
    ended_after_restart: list[BatchRow] = []
    restart = threading.Thread(target=_restart, args=(cluster,))

    def on_row(row: BatchRow) -> None:
        if restart.is_alive():
            ended_after_restart.append(row)
        elif not restart.ident and row.status == ItemStatus.COMPLETED:
            restart.start()  # after the first item is in: the rest ride the restart out

    summary = _run_batch(manifest, on_row)
    restart.join()

    assert (summary.completed, summary.failed) == (ITEMS, 0), [r.error for r in summary.rows]
    assert ended_after_restart, "the restart ended after the batch: no item met it"
    counts = _graph_counts(settings)
    assert counts["ready"] == ITEMS
    assert counts["processing"] == counts["unfinished_jobs"] == 0
    assert counts["blobs"] == counts["contents"]  # one blob per distinct content
    objects, collected, missing = _collect(settings)
    assert (collected, missing) == (0, 0)
    assert objects == counts["contents"]


def _restart(cluster: Cluster) -> None:
    cluster.stop_fast()
    time.sleep(DOWN_S)  # the outage itself: what the test is about, not a wait for an event
    cluster.start()


def test_a_database_down_past_the_window_fails_items_with_a_sentence_and_a_rerun_mends_all(
    cluster: Cluster,
    cluster_url: str,
    fault_settings: Callable[..., Settings],
    media_root: Path,
) -> None:
    settings = fault_settings(database_url=cluster_url, outage_window_s=2.0, lease_s=3.0)
    manifest = photo_manifest(media_root, 12)
    stopped = threading.Event()

    def on_row(row: BatchRow) -> None:
        if not stopped.is_set() and row.status == ItemStatus.COMPLETED:
            stopped.set()
            cluster.stop_fast()

    try:
        first = _run_batch(manifest, on_row)
    finally:
        if stopped.is_set():
            cluster.start()

    failed = [row for row in first.rows if row.status == ItemStatus.FAILED]
    assert failed, "no item met the outage"
    where = f"the asset store at postgresql://127.0.0.1:{cluster.port}/"
    for row in failed:
        assert str(row.error).startswith(where), row.error
        assert "could not be reached" in str(row.error)
    # Rows that could not be ended are leased for 3 s; past that the re-run takes them over.
    # Items the outage caught before they started, or while they wrote, are left unended.
    assert _graph_counts(settings)["unfinished_jobs"] > 0
    _wait_for_leases_to_run_out(settings)

    second = _run_batch(manifest)

    assert second.failed == 0, [row.error for row in second.rows]
    assert second.completed == len(failed)
    with get_client(sync_client=True) as client:
        engine = engine_for(settings)
        try:
            reconcile_jobs(engine, client)  # the first run's jobs it could not end
        finally:
            engine.dispose()
    counts = _graph_counts(settings)
    assert counts["ready"] == 12
    assert counts["processing"] == counts["unfinished_jobs"] == 0
    objects, _, missing = _collect(settings)
    assert missing == 0
    assert objects == counts["contents"]  # what stored but never recorded is gone


def _wait_for_leases_to_run_out(settings: Settings) -> None:
    engine = engine_for(settings)
    try:
        with new_session(engine) as session:
            latest = session.execute(
                select(func.max(Asset.lease_expires_at)).where(
                    col(Asset.status) == AssetStatus.PROCESSING
                )
            ).scalar_one()
    finally:
        engine.dispose()
    if latest is not None:
        time.sleep(max(0.0, (latest - utcnow()).total_seconds()) + 0.1)


def test_an_unreachable_database_is_named_without_its_credentials() -> None:
    port = free_port()  # nothing listens there
    engine = make_engine(
        f"postgresql+psycopg://assetflow:s3cret@127.0.0.1:{port}/assets", outage_window_s=0.5
    )
    started = time.monotonic()
    try:
        with pytest.raises(DatabaseUnavailable) as raised:
            transact(engine, lambda session: session.execute(select(1)), describe="probing")
    finally:
        engine.dispose()

    message = str(raised.value)
    assert message.startswith(
        f"the asset store at postgresql://127.0.0.1:{port}/assets could not be reached: "
    )
    assert "s3cret" not in message and "assetflow@" not in message
    assert raised.value.outlasted
    assert time.monotonic() - started >= 0.5  # it was retried for the window

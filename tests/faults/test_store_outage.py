"""The S3 endpoint (SeaweedFS) stopped for a few seconds mid-batch, and started again."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from core.settings import Settings
from flows.batch import BatchRow, BatchSummary, ItemStatus, batch_flow
from models.db import engine_for
from models.gc import collect_garbage
from storage import open_store
from tests.faults.cluster import photo_manifest
from tests.fixtures.seaweed import S3Server

DOWN_S = 5.0
ITEMS = 12


def test_an_s3_outage_mid_batch_costs_no_item(
    s3_server: S3Server,
    sqlite_url: str,
    fault_settings: Callable[..., Settings],
    media_root: Path,
) -> None:
    settings = fault_settings(database_url=sqlite_url, outage_window_s=60.0)
    manifest = photo_manifest(media_root, ITEMS)
    first_in, stopped = threading.Event(), threading.Event()
    ended_after_stop: list[BatchRow] = []

    def on_row(row: BatchRow) -> None:
        if stopped.is_set():
            ended_after_stop.append(row)
        elif row.status == ItemStatus.COMPLETED:
            first_in.set()

    def run() -> BatchSummary:
        state = batch_flow(on_row)(
            str(manifest), concurrency=4, items_per_task=2, return_state=True
        )
        summary: BatchSummary = state.result()
        return summary

    # The batch on a thread, the outage on this one: weed dies with the thread that started it.
    with ThreadPoolExecutor(max_workers=1) as pool:
        batch = pool.submit(run)
        assert first_in.wait(timeout=120), "no item completed"
        s3_server.stop()
        stopped.set()
        time.sleep(DOWN_S)  # the outage itself, not a wait for an event
        s3_server.start()  # returns once S3 reads and writes again
        summary = batch.result()

    assert (summary.completed, summary.failed) == (ITEMS, 0), [r.error for r in summary.rows]
    assert ended_after_stop, "the batch ended before S3 went away"
    engine = engine_for(settings)
    try:
        report = collect_garbage(engine, open_store(settings), grace_s=0)
    finally:
        engine.dispose()
    assert (report.collected, report.missing) == (0, 0)

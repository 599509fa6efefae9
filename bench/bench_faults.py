"""What riding out faults costs on the normal path, and how fast a batch recovers from a restart.

Against a throwaway PostgreSQL cluster of its own (initdb in a temp dir, a
free port), with a filesystem object store:

1. The normal path: a small graph write through ``transact`` (outage window,
   error translation) against the same write in a plain session; the lease
   heartbeat thread a job runs beside its work; the claim transaction written
   before each store. Medians of ``RUNS`` alternating runs.
2. Recovery: a writer commits every 20 ms while the cluster is stopped
   (``pg_ctl stop -m fast``) for ``DOWN_S`` and started again; the time from
   the server accepting connections to the writer's next commit.
3. A batch of ``ITEMS`` photos at concurrency 4, once undisturbed and once
   with the cluster restarted (down ``DOWN_S``) after its first item: items,
   failures, stuck assets, orphaned objects and wall time of each.

    uv run python -m bench.bench_faults
"""

from __future__ import annotations

import os
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
# The ephemeral Prefect server gets 20 s to start by default: too few on a busy box.
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")

from sqlalchemy import Engine, func, select, update
from sqlmodel import Session, col

from flows.lease import keep_lease
from models.db import make_engine, new_session, transact
from models.gc import Content, claim_contents, collect_garbage
from models.migrate import upgrade_database
from models.tables import Asset, AssetStatus, utcnow
from storage.digest import FileDigest
from storage.filesystem import FilesystemStore
from tests.faults.cluster import Cluster, photo_manifest, throwaway_cluster
from tests.fixtures.database import _admin, _pg_url

RUNS = 2000
DOWN_S = 5.0
ITEMS = 40
WRITE_EVERY_S = 0.02


def _database(cluster: Cluster) -> str:
    name = f"bench_faults_{uuid.uuid4().hex[:8]}"
    with _admin(cluster.port) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = _pg_url(cluster.port, name)
    upgrade_database(url)
    return url


def _asset(engine: Engine) -> uuid.UUID:
    from models import graph

    with new_session(engine) as session:
        project = graph.ensure_project(session=session, name="bench")
        asset = graph.create_asset(
            session=session, project=project, identifier=uuid.uuid4().hex, source="/x"
        )
        session.commit()
        return asset.id


def _touch(asset_id: uuid.UUID) -> Callable[[Session], None]:
    def write(session: Session) -> None:
        session.execute(update(Asset).where(col(Asset.id) == asset_id).values(updated_at=utcnow()))

    return write


def _median_us(samples: list[float]) -> float:
    return statistics.median(samples) * 1e6


def normal_path(engine: Engine) -> None:
    """Print what the fault handling adds to writes, jobs and stores that meet no fault."""
    asset_id = _asset(engine)
    write = _touch(asset_id)
    plain, ridden, leased, claimed = [], [], [], []
    store = FilesystemStore(Path(tempfile.mkdtemp()))
    for run in range(RUNS):
        started = time.perf_counter()
        with new_session(engine) as session:
            write(session)
            session.commit()
        plain.append(time.perf_counter() - started)
        started = time.perf_counter()
        transact(engine, write, describe="bench")
        ridden.append(time.perf_counter() - started)
        started = time.perf_counter()
        with keep_lease(engine, asset_id, 180.0):
            pass
        leased.append(time.perf_counter() - started)
        digest = FileDigest(sha256=f"{run:064x}", md5="0" * 32, size=1)
        started = time.perf_counter()
        transact(
            engine,
            lambda session, digest=digest: claim_contents(  # type: ignore[misc]
                session=session,
                backend=store.backend,
                bucket=store.bucket,
                contents=[Content(digest, None)],
            ),
            describe="bench",
        )
        claimed.append(time.perf_counter() - started)
    print(f"normal path, medians of {RUNS} runs on PostgreSQL:")
    print(f"  one small write, plain session      {_median_us(plain):8.0f} us")
    print(
        f"  the same write through transact     {_median_us(ridden):8.0f} us"
        f"  ({_median_us(ridden) - _median_us(plain):+.0f} us)"
    )
    print(f"  lease heartbeat thread, per job     {_median_us(leased):8.0f} us")
    print(f"  claim before a store, per store     {_median_us(claimed):8.0f} us")


def recovery(cluster: Cluster, engine: Engine) -> None:
    """Print how soon writes succeed again once a stopped cluster accepts connections."""
    asset_id = _asset(engine)
    write = _touch(asset_id)
    commits: list[float] = []
    stop = threading.Event()

    def writer() -> None:
        while not stop.is_set():
            transact(engine, write, describe="bench")
            commits.append(time.monotonic())
            time.sleep(WRITE_EVERY_S)

    thread = threading.Thread(target=writer)
    thread.start()
    time.sleep(0.5)
    down = time.monotonic()
    cluster.stop_fast()
    time.sleep(DOWN_S)
    cluster.start()
    up = time.monotonic()
    while not commits or commits[-1] < up:
        time.sleep(0.01)
    stop.set()
    thread.join()
    first_after = min(t for t in commits if t >= up)
    last_before = max(t for t in commits if t <= down)
    print(f"recovery from a {DOWN_S:.0f} s stop (pg_ctl stop -m fast, then start):")
    print(f"  server accepting again -> next commit  {first_after - up:6.2f} s")
    print(f"  writer's gap between commits          {first_after - last_before:6.2f} s")


def batches(cluster: Cluster) -> None:
    """Print a batch undisturbed beside the same batch with the cluster restarted mid-way."""
    from flows.batch import BatchRow, ItemStatus, batch_flow

    root = Path(tempfile.mkdtemp(prefix="bench-faults-"))
    runs = [("warm-up", False, 1), ("no fault", False, ITEMS)]
    runs.append((f"restart, down {DOWN_S:.0f} s", True, ITEMS))
    for label, fault, items in runs:
        media = root / uuid.uuid4().hex
        media.mkdir()
        url = _database(cluster)
        objects = media / "objects"
        os.environ.update(
            {
                "ASSETFLOW_DATABASE_URL": url,
                "ASSETFLOW_STORAGE_URL": f"file://{objects}",
                "ASSETFLOW_LOCAL_ROOTS": str(media),
                "ASSETFLOW_TEMP_DIR": str(root),
            }
        )
        manifest = photo_manifest(media, items)
        restart = threading.Thread(target=_restart, args=(cluster,))

        def on_row(row: BatchRow, restart: threading.Thread = restart, fault: bool = fault) -> None:
            if fault and not restart.ident and row.status == ItemStatus.COMPLETED:
                restart.start()

        started = time.perf_counter()
        summary = batch_flow(on_row)(str(manifest), concurrency=4)
        took = time.perf_counter() - started
        if restart.ident:
            restart.join()
        engine = make_engine(url)
        try:
            with new_session(engine) as session:
                stuck = session.execute(
                    select(func.count()).where(col(Asset.status) == AssetStatus.PROCESSING)
                ).scalar_one()
            report = collect_garbage(engine, FilesystemStore(objects), grace_s=0, dry_run=True)
        finally:
            engine.dispose()
        if label == "warm-up":  # the ephemeral Prefect server starts with the first run
            continue
        print(
            f"batch of {items} photos, {label:<18} {took:6.1f} s: {summary.completed} completed, "
            f"{summary.failed} failed, {stuck} stuck processing, {report.collected} orphans, "
            f"{report.missing} missing"
        )


def _restart(cluster: Cluster) -> None:
    cluster.stop_fast()
    time.sleep(DOWN_S)
    cluster.start()


def main() -> None:
    """Run the three measurements against one throwaway cluster."""
    with throwaway_cluster() as cluster:
        engine = make_engine(_database(cluster))
        try:
            normal_path(engine)
            recovery(cluster, engine)
        finally:
            engine.dispose()
        batches(cluster)
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()

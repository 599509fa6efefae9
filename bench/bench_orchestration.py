"""What orchestration costs per asset, and batch throughput on 1 vs 2 Dask workers.

1. Overhead: ``--docs`` tiny text documents (no derivatives run for documents:
   only fetch, store and record) through the in-process ``batch-ingest`` flow on
   a temporary local Prefect server; objects on the filesystem, the asset store
   on PostgreSQL (127.0.0.1:5432) when one answers, else SQLite. Reports, per
   asset at concurrency 1 and 8, the wall time, the CPU time of the flow's
   process and the CPU time of the Prefect server (which shares the 2 cores
   here and would have its own machine in production), and what a no-op
   Prefect task run costs on the same runner.
2. Throughput: ``--images`` distinct 24 MP JPEG photos (``--image-size``; real
   CPU work: four WebP sizes, perceptual hashes, BlurHash) through the batch on
   a Dask LocalCluster of 1, then 2 worker processes of one thread each (warmed
   up first); reports the speed-up. The Prefect server, PostgreSQL, the Dask
   scheduler and the flow share the same 2 cores with the workers here.

Before each measurement the Prefect server is left to go idle, so that no run
pays for recording the events of the one before.

Run: ``uv run python bench/bench_orchestration.py [--docs 200] [--images 32] [--repeat 2]``
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil

# Before Prefect is imported: no analytics without network, and no log line per task run.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

PG = ("127.0.0.1", 5432)


def _pg_answers() -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(PG) == 0


@contextmanager
def fresh_database(root: Path) -> Iterator[str]:
    """Yield the URL of a new, migrated asset store (PostgreSQL if it answers, else SQLite)."""
    from models.migrate import upgrade_database

    if not _pg_answers():
        url = f"sqlite:///{root / f'{uuid.uuid4().hex}.db'}"
        upgrade_database(url)
        yield url
        return
    import psycopg

    name = f"assetflow_bench_{uuid.uuid4().hex[:12]}"
    admin = {"host": PG[0], "port": PG[1], "user": "postgres", "dbname": "postgres"}
    with psycopg.connect(**admin, autocommit=True) as conn:  # type: ignore[arg-type]
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql+psycopg://postgres@{PG[0]}:{PG[1]}/{name}"
    try:
        upgrade_database(url)
        yield url
    finally:
        with psycopg.connect(**admin, autocommit=True) as conn:  # type: ignore[arg-type]
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def export(root: Path, database_url: str, dask_address: str | None = None) -> None:
    """Point the flows' settings at a fresh object store under ``root`` and this database."""
    objects = root / f"objects-{uuid.uuid4().hex[:8]}"
    os.environ.update(
        {
            "ASSETFLOW_STORAGE_URL": f"file://{objects}",
            "ASSETFLOW_DATABASE_URL": database_url,
            "ASSETFLOW_LOCAL_ROOTS": str(root),
            "ASSETFLOW_TEMP_DIR": str(root),
        }
    )
    if dask_address is None:
        os.environ.pop("ASSETFLOW_DASK_ADDRESS", None)
    else:
        os.environ["ASSETFLOW_DASK_ADDRESS"] = dask_address


def write_manifest(path: Path, sources: list[Path]) -> Path:
    path.write_text("".join(json.dumps({"source": str(s)}) + "\n" for s in sources))
    return path


def make_documents(directory: Path, count: int) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = directory / f"doc-{uuid.uuid4().hex}.txt"
        path.write_text(f"document {i} {uuid.uuid4()}\n")
        paths.append(path)
    return paths


def make_photos(directory: Path, count: int, *, size: tuple[int, int] = (2400, 1600)) -> list[Path]:
    """Write distinct photo-like JPEGs: smooth random colour fields with grain."""
    import numpy as np
    from PIL import Image

    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    paths = []
    for _ in range(count):
        coarse = Image.fromarray(rng.integers(0, 256, (12, 18, 3), dtype=np.uint8))
        smooth = np.asarray(coarse.resize(size, Image.Resampling.BICUBIC), dtype=np.int16)
        grain = rng.integers(-12, 13, smooth.shape, dtype=np.int16)
        photo = Image.fromarray(np.clip(smooth + grain, 0, 255).astype(np.uint8))
        path = directory / f"photo-{uuid.uuid4().hex}.jpg"
        photo.save(path, quality=90)
        paths.append(path)
    return paths


def timed(run: Callable[[], object]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def prefect_server_process() -> psutil.Process:
    """Return the Prefect server the test harness started: this process's uvicorn child."""
    for child in psutil.Process().children(recursive=True):
        if "uvicorn" in " ".join(child.cmdline()):
            return child
    raise SystemExit("no Prefect server process found under this process")


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def wait_until_idle(process: psutil.Process, *, window_s: float = 0.5) -> None:
    """Wait until the process uses under 5 % of a core over a window.

    The Prefect server records task-run events after the batch returns; the
    next measurement must not pay for this one's.
    """
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        before = cpu_seconds(process)
        time.sleep(window_s)
        if cpu_seconds(process) - before < 0.05 * window_s:
            return
    raise SystemExit("the Prefect server did not go idle within 300 s")


def measure_batch(manifest: Path, concurrency: int, items: int) -> dict[str, float]:
    """Run the batch; return wall and CPU per item of this process and of the Prefect server.

    The server's CPU is counted until it is idle again, since recording the
    batch's events is part of what the batch costs.
    """
    server = prefect_server_process()
    wait_until_idle(server)
    me = psutil.Process()
    flow_cpu, server_cpu = cpu_seconds(me), cpu_seconds(server)
    wall = timed(lambda: run_batch(manifest, concurrency))
    flow_cpu = cpu_seconds(me) - flow_cpu
    wait_until_idle(server)
    server_cpu = cpu_seconds(server) - server_cpu
    return {"wall": wall / items, "flow_cpu": flow_cpu / items, "server_cpu": server_cpu / items}


def run_batch(manifest: Path, concurrency: int) -> None:
    from flows.batch import batch_ingest

    summary = batch_ingest(str(manifest), concurrency=concurrency)
    if summary.failed or summary.completed != summary.total:
        errors = [row.error for row in summary.rows if row.error][:3]
        raise SystemExit(f"batch did not complete every item: {summary.failed} failed {errors}")


def noop_task_cost(count: int, concurrency: int) -> float:
    """Seconds per no-op task run, ``count`` of them on a thread runner inside one flow."""
    from prefect import flow, task
    from prefect.cache_policies import NO_CACHE
    from prefect.task_runners import ThreadPoolTaskRunner

    @task(cache_policy=NO_CACHE)
    def noop(i: int) -> int:
        return i

    @flow(task_runner=ThreadPoolTaskRunner(max_workers=concurrency))
    def many() -> None:
        # Submitted one by one and awaited, as the batch submits its items.
        for future in [noop.submit(i) for i in range(count)]:
            future.result()

    many()  # warm: flow registration, client, thread pool
    wait_until_idle(prefect_server_process())
    started = time.perf_counter()
    many()
    return (time.perf_counter() - started) / count


def overhead(root: Path, docs: int, repeat: int) -> dict[str, object]:
    """Part 1: wall and CPU time per asset of the batch on tiny documents."""
    figures: dict[str, object] = {}
    for concurrency in (1, 8):
        runs = []
        for _ in range(repeat):
            with fresh_database(root) as url:
                export(root, url)
                warm = make_documents(root / f"warm-{uuid.uuid4().hex[:6]}", 10)
                run_batch(write_manifest(root / f"warm-{uuid.uuid4().hex[:6]}.jsonl", warm), 1)
                sources = make_documents(root / f"docs-{uuid.uuid4().hex[:6]}", docs)
                manifest = write_manifest(root / f"docs-{uuid.uuid4().hex[:6]}.jsonl", sources)
                runs.append(measure_batch(manifest, concurrency, docs))
        for name in ("wall", "flow_cpu", "server_cpu"):
            median = statistics.median(run[name] for run in runs)
            figures[f"c{concurrency}_{name}_ms_per_asset"] = round(1000 * median, 1)
    figures["prefect_noop_task_ms_c1"] = round(1000 * noop_task_cost(docs, 1), 1)
    figures["prefect_noop_task_ms_c8"] = round(1000 * noop_task_cost(docs, 8), 1)
    with fresh_database(root) as url:
        figures["database"] = url.split(":", 1)[0]
    return figures


def throughput(root: Path, images: int, size: tuple[int, int], repeat: int) -> dict[str, object]:
    """Part 2: wall time of a batch of photos on 1 and on 2 Dask worker processes."""
    import dask
    from distributed import Client, LocalCluster

    seconds: dict[int, float] = {}
    # Dask's statistical profiler samples every worker thread every 10 ms; a
    # CPU-bound cluster turns it off (README, "Running it as a service").
    with dask.config.set({"distributed.worker.profile.enabled": False}):
        for workers in (1, 2):
            runs = []
            with (
                LocalCluster(
                    n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0"
                ) as cluster,
                Client(cluster),
            ):
                for _ in range(repeat):
                    with fresh_database(root) as url:
                        export(root, url, dask_address=cluster.scheduler_address)
                        # Warm every worker: imports, Prefect client, first connection.
                        warm = make_photos(
                            root / f"warm-{uuid.uuid4().hex[:6]}", 2 * workers, size=(320, 240)
                        )
                        warm_manifest = root / f"warm-{uuid.uuid4().hex[:6]}.jsonl"
                        run_batch(write_manifest(warm_manifest, warm), workers)
                        photos = make_photos(
                            root / f"photos-{uuid.uuid4().hex[:6]}", images, size=size
                        )
                        manifest = write_manifest(
                            root / f"photos-{uuid.uuid4().hex[:6]}.jsonl", photos
                        )
                        runs.append(measure_batch(manifest, 2 * workers, images)["wall"] * images)
            seconds[workers] = statistics.median(runs)
    return {
        "images": images,
        "image_size": f"{size[0]}x{size[1]}",
        "seconds_1_worker": round(seconds[1], 2),
        "seconds_2_workers": round(seconds[2], 2),
        "speedup": round(seconds[1] / seconds[2], 2),
        "cpus": os.cpu_count(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--docs", type=int, default=200)
    parser.add_argument("--images", type=int, default=32)
    parser.add_argument(
        "--image-size", default="6000x4000", help="WIDTHxHEIGHT of the photos (24 MP: a camera's)"
    )
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--part", choices=["overhead", "throughput", "both"], default="both")
    args = parser.parse_args()

    from prefect.testing.utilities import prefect_test_harness

    results: dict[str, object] = {}
    with (
        tempfile.TemporaryDirectory(prefix="assetflow-bench-") as tmp,
        prefect_test_harness(server_startup_timeout=120),
    ):
        root = Path(tmp).resolve()
        if args.part in ("overhead", "both"):
            results["overhead"] = overhead(root, args.docs, args.repeat)
            print(json.dumps({"overhead": results["overhead"]}), flush=True)
        if args.part in ("throughput", "both"):
            width, height = (int(n) for n in args.image_size.split("x"))
            results["throughput"] = throughput(root, args.images, (width, height), args.repeat)
            print(json.dumps({"throughput": results["throughput"]}), flush=True)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

"""How fast the CLI answers: ``assetflow --help``, ``ls``, ``show``, ``job``, ``similar``.

Each command runs as a user runs it, a fresh ``assetflow`` process, against a
migrated SQLite asset store holding one asset (with an ORIGINAL file, image
hashes and a finished job). Target: under 1 s each. Prints the median and the
slowest of ``RUNS`` runs, and whether Prefect was loaded (it must not be).

    uv run python -m bench.bench_cli
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

RUNS = 7
TARGET_S = 1.0


def _prepare(database_url: str) -> tuple[uuid.UUID, uuid.UUID]:
    """Migrate the store and record one asset with a file, hashes and a finished job."""
    from models import graph
    from models.db import make_engine, new_session
    from models.migrate import upgrade_database
    from models.similarity import record_image_hashes
    from models.tables import ORIGINAL, AssetStatus, JobKind, JobStatus
    from storage.stored import StoredObject

    upgrade_database(database_url)
    engine = make_engine(database_url)
    with new_session(engine) as session:
        project = graph.ensure_project(session=session, name="bench")
        asset = graph.create_asset(
            session=session, project=project, identifier="a", source="https://e.x/a.jpg"
        )
        stored = StoredObject(
            "fs", "objects", "sha256/ab/cd/x", "ab" * 32, "cd" * 16, 1, None, True
        )
        graph.record_format(
            session=session,
            asset=asset,
            name=ORIGINAL,
            files=[graph.NewFile(name="a.jpg", stored=stored)],
        )
        record_image_hashes(session=session, asset_id=asset.id, phash=1234, dhash=5678)
        graph.update_asset(session=session, asset=asset, status=AssetStatus.READY)
        job, _ = graph.create_job(session=session, kind=JobKind.INGEST, input={})
        graph.update_job(session=session, job=job, status=JobStatus.COMPLETED, asset_id=asset.id)
        session.commit()
        ids = asset.id, job.id
    engine.dispose()
    return ids


def _time(command: list[str], env: dict[str, str]) -> tuple[list[float], bool]:
    """Run the command RUNS times; return the wall times and whether it loaded Prefect."""
    times = []
    loaded_prefect = False
    for _ in range(RUNS):
        started = time.perf_counter()
        done = subprocess.run(
            command, env=env | {"PYTHONPROFILEIMPORTTIME": "1"}, capture_output=True, text=True
        )
        times.append(time.perf_counter() - started)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr[-2000:]}")
        loaded_prefect |= "| prefect" in done.stderr
    return times, loaded_prefect


def main() -> int:
    """Time each read command; return 1 when one is over the target or loads Prefect."""
    assetflow = str(Path(sys.executable).parent / "assetflow")
    with tempfile.TemporaryDirectory(prefix="bench-cli-") as work:
        database_url = f"sqlite:///{work}/assetflow.db"
        asset_id, job_id = _prepare(database_url)
        env = {**os.environ, "ASSETFLOW_DATABASE_URL": database_url}
        commands = {
            "--help": [assetflow, "--help"],
            "ls": [assetflow, "ls"],
            "show": [assetflow, "show", str(asset_id)],
            "job": [assetflow, "job", str(job_id)],
            "similar": [assetflow, "similar", str(asset_id)],
            "ls --json": [assetflow, "ls", "--json"],
        }
        worst = 0
        print(f"{'command':<12} {'median':>8} {'slowest':>8}  prefect")
        for name, command in commands.items():
            times, prefect = _time(command, env)
            median = statistics.median(times)
            over = median > TARGET_S or prefect
            worst = max(worst, int(over))
            print(
                f"{name:<12} {median:7.2f}s {max(times):7.2f}s  {'LOADED' if prefect else 'no'}"
                + ("   over the 1 s target" if median > TARGET_S else "")
            )
    return worst


if __name__ == "__main__":
    sys.exit(main())

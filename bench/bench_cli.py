"""How fast the CLI answers: ``assetflow --help``, ``ls``, ``show``, ``job``, ``similar``.

Each command runs as a user runs it, a fresh ``assetflow`` process, against a
migrated SQLite asset store holding one asset (with an ORIGINAL file, image
hashes and a finished job), beside the floor of the commands that read the
store: a bare ``import sqlmodel``. Target: under 1 s each. Prints the median and the
slowest wall time of ``RUNS`` runs, the median CPU time (the wall time of an
idle machine; on a shared one the wall time includes the others' work), and
whether Prefect was loaded (it must not be).

    uv run python -m bench.bench_cli
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from models.migrate import upgrade_database
from tests.fixtures.recorded import record_ready_asset

RUNS = 7
TARGET_S = 1.0


def _time(command: list[str], env: dict[str, str]) -> tuple[list[float], list[float], bool]:
    """Run the command RUNS times; return wall times, CPU times, and whether it loaded Prefect.

    The CPU time (user + system) is what the command costs on an idle machine;
    the wall time is what a user waits here, other work included.
    """
    walls, cpus = [], []
    loaded_prefect = False
    for _ in range(RUNS):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        done = subprocess.run(
            command, env=env | {"PYTHONPROFILEIMPORTTIME": "1"}, capture_output=True, text=True
        )
        walls.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr[-2000:]}")
        loaded_prefect |= "| prefect" in done.stderr
    return walls, cpus, loaded_prefect


def main() -> int:
    """Time each read command; return 1 when one is over the target or loads Prefect."""
    assetflow = str(Path(sys.executable).parent / "assetflow")
    with tempfile.TemporaryDirectory(prefix="bench-cli-") as work:
        database_url = f"sqlite:///{work}/assetflow.db"
        upgrade_database(database_url)
        asset_id, job_id = record_ready_asset(database_url, project="bench")
        env = {**os.environ, "ASSETFLOW_DATABASE_URL": database_url}
        commands = {
            "--help": [assetflow, "--help"],
            "ls": [assetflow, "ls"],
            "show": [assetflow, "show", str(asset_id)],
            "job": [assetflow, "job", str(job_id)],
            "similar": [assetflow, "similar", str(asset_id)],
            "ls --json": [assetflow, "ls", "--json"],
            # The floor of every command that reads the store: loading SQLAlchemy/SQLModel.
            "(sqlmodel)": [sys.executable, "-c", "import sqlmodel, pydantic_settings"],
        }
        worst = 0
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        print(f"{'command':<12} {'wall':>7} {'slowest':>8} {'cpu':>7}  prefect")
        for name, command in commands.items():
            walls, cpus, prefect = _time(command, env)
            wall, cpu = statistics.median(walls), statistics.median(cpus)
            over = min(wall, cpu) > TARGET_S
            worst = max(worst, int(over or prefect))
            print(
                f"{name:<12} {wall:6.2f}s {max(walls):7.2f}s {cpu:6.2f}s  "
                f"{'LOADED' if prefect else 'no'}" + ("   over the 1 s target" if over else "")
            )
    return worst


if __name__ == "__main__":
    sys.exit(main())

"""How fast the CLI answers: ``--help``, ``ls``, ``show``, ``job``, ``similar``, ``keys list``.

Each command runs as a user runs it, a fresh ``assetflow`` process (the
environment's console script), against a migrated asset store holding one
asset (an ORIGINAL file, image hashes, a finished job): on SQLite, and on
PostgreSQL when one answers on 127.0.0.1:5432 (trust auth; a database is made
and dropped). ``uv run assetflow ls`` shows what ``uv run`` adds. Beside them,
the floors: Python itself, the imports every read command makes (typer,
SQLModel, the database's dialect and driver), and those a read path on
SQLAlchemy Core alone would still make. Target: under 1 s each.

Prints the median and the slowest wall time of ``RUNS`` runs, the median CPU
time (user + system: the wall time of an idle machine; on a shared one the
wall time includes the others' work), and whether Prefect was loaded (it must
not be). First it says whether the installed packages carry their bytecode:
without it, and where Python may not write ``__pycache__``
(``PYTHONDONTWRITEBYTECODE=1``), every start compiles SQLAlchemy and pydantic
again, which doubles the CPU time (``make setup`` compiles it).

    uv run python -m bench.bench_cli
"""

from __future__ import annotations

import importlib.util
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

from models.migrate import upgrade_database
from tests.fixtures.recorded import record_ready_asset

RUNS = 7
TARGET_S = 1.0
CHECKOUT = Path(__file__).resolve().parents[1]
PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
# What a driver adds to the floor: the dialect SQLAlchemy loads for the URL, and the driver.
DIALECTS = {
    "sqlite": "sqlalchemy.dialects.sqlite, sqlite3",
    "postgresql": "sqlalchemy.dialects.postgresql.psycopg, psycopg",
}
FREEZE = "import gc; gc.freeze()"


def _time(command: list[str], env: dict[str, str]) -> tuple[list[float], list[float]]:
    """Run the command RUNS times; return its wall times and CPU times (user + system)."""
    walls, cpus = [], []
    for _ in range(RUNS):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        done = subprocess.run(command, env=env, cwd=CHECKOUT, capture_output=True, text=True)
        walls.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr[-2000:]}")
    return walls, cpus


def _loads_prefect(command: list[str], env: dict[str, str]) -> bool:
    """Run the command once more with Python's import log on; tell whether Prefect was loaded."""
    done = subprocess.run(
        command,
        env=env | {"PYTHONPROFILEIMPORTTIME": "1"},
        cwd=CHECKOUT,
        capture_output=True,
        text=True,
        check=True,
    )
    return "| prefect" in done.stderr


def _bytecode_state() -> str:
    """Say whether the installed packages' bytecode is compiled and may be written."""
    spec = importlib.util.find_spec("sqlalchemy")
    assert spec is not None and spec.origin is not None
    compiled = Path(importlib.util.cache_from_source(spec.origin)).is_file()
    writes = "no" if os.environ.get("PYTHONDONTWRITEBYTECODE") else "yes"
    return (
        f"packages' bytecode compiled: {'yes' if compiled else 'NO'}; Python may write it: {writes}"
    )


@contextmanager
def _postgres_database() -> Iterator[str | None]:
    """Make a PostgreSQL database for the bench and drop it after; None when none answers."""
    name = f"bench_cli_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(**PG, dbname="postgres", autocommit=True, connect_timeout=3)
    except psycopg.OperationalError:
        yield None
        return
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"postgresql+psycopg://{PG['user']}@{PG['host']}:{PG['port']}/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _commands(database_url: str) -> dict[str, list[str]]:
    """Name each command to time against one asset store, with the floors beside them."""
    upgrade_database(database_url)
    asset_id, job_id = record_ready_asset(database_url, project="bench")
    assetflow = str(Path(sys.executable).parent / "assetflow")
    python = sys.executable
    dialect = DIALECTS[database_url.split(":")[0].split("+")[0]]
    commands = {
        "--help": [assetflow, "--help"],
        "ls": [assetflow, "ls"],
        "ls --json": [assetflow, "ls", "--json"],
        "show": [assetflow, "show", str(asset_id)],
        "job": [assetflow, "job", str(job_id)],
        "similar": [assetflow, "similar", str(asset_id)],
        "keys list": [assetflow, "keys", "list"],
        "(python)": [python, "-c", "pass"],
        # What every command that reads the store imports before it does anything (and,
        # as the console script does, without the last collection at exit).
        "(imports)": [python, "-c", f"import typer, sqlmodel, {dialect}; {FREEZE}"],
        # What a read path on SQLAlchemy Core alone (no ORM, SQLModel or pydantic) would.
        "(core)": [python, "-c", f"import typer, sqlalchemy, {dialect}; {FREEZE}"],
    }
    if (uv := shutil.which("uv")) is not None:
        commands["uv run ls"] = [uv, "run", "--frozen", "--quiet", "assetflow", "ls"]
    return commands


def _report(name: str, command: list[str], env: dict[str, str]) -> int:
    """Time one command and print its line; return 1 when it is over the target or loads Prefect."""
    walls, cpus = _time(command, env)
    wall, cpu = statistics.median(walls), statistics.median(cpus)
    floor = name.startswith("(")
    prefect = not floor and _loads_prefect(command, env)
    over = min(wall, cpu) > TARGET_S
    print(
        f"  {name:<12} {wall:6.2f}s {max(walls):7.2f}s {cpu:6.2f}s  "
        f"{'-' if floor else 'LOADED' if prefect else 'no'}"
        + ("   over the 1 s target" if over and not floor else "")
    )
    return int((over and not floor) or prefect)


def main() -> int:
    """Time each read command on each database; return 1 when one is over the target."""
    print(_bytecode_state())
    worst = 0
    with tempfile.TemporaryDirectory(prefix="bench-cli-") as work, _postgres_database() as pg:
        stores = {"SQLite": f"sqlite:///{work}/assetflow.db", "PostgreSQL": pg}
        for store, database_url in stores.items():
            if database_url is None:
                print(f"\n{store}: none answers on {PG['host']}:{PG['port']}; skipped")
                continue
            env = {**os.environ, "ASSETFLOW_DATABASE_URL": database_url}
            print(f"\n{store} (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
            print(f"  {'command':<12} {'wall':>7} {'slowest':>8} {'cpu':>7}  prefect")
            for name, command in _commands(database_url).items():
                worst = max(worst, _report(name, command, env))
    return worst


if __name__ == "__main__":
    sys.exit(main())

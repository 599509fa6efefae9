"""The HTTP API's throughput against the issue's goals, on PostgreSQL.

1. ``GET /assets/{id}`` (an image asset with its original, four sizes and a
   job: six queries) at ``--clients`` concurrent clients, against a bare
   FastAPI endpoint answering a constant, served the same way (uvicorn, one
   process) in the same run. Goal: at least 0.35x the bare throughput.
   Reports requests per second and p50/p99 latency of both.
2. ``POST /tasks`` with a Prefect server configured (a temporary local one,
   the deployments applied, no worker: runs stay scheduled): tasks accepted
   per second at ``--clients`` concurrent clients; then how long the API's
   dispatch threads took to create every flow run, and a check that every
   task is exactly one job and one flow run. Goal: at least 100 tasks per second.

The load comes from this process (asyncio, httpx); the servers are
subprocesses sharing the machine's cores with it and with PostgreSQL.

Run: ``uv run python -m bench.bench_api [--clients 32] [--seconds 10] [--tasks 400]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from sqlalchemy import Engine

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

from bench.bench_orchestration import fresh_database

STARTUP_TIMEOUT_S = 120.0
GOAL_READ_RATIO = 0.35
GOAL_TASKS_PER_S = 100.0
DRAIN_TIMEOUT_S = 600.0


def bare_app() -> object:
    """A FastAPI app with one endpoint answering a constant: the floor to compare with."""
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/constant")
    def constant() -> dict[str, str]:
        return {"status": "ok"}

    return app


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def served(factory: str, env: dict[str, str], probe: str) -> Iterator[str]:
    """Run ``uvicorn --factory`` on a free port in a subprocess; yield its base URL."""
    with served_process(factory, env, probe) as (base, _process):
        yield base


@contextmanager
def served_process(
    factory: str, env: dict[str, str], probe: str
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Run ``uvicorn --factory`` on a free port in a subprocess; yield its base URL and process."""
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", factory, "--factory", "--port", str(port),
         "--log-level", "warning", "--no-access-log"],
        env={**os.environ, **env},
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{factory} exited with {process.returncode}")
            try:
                httpx.get(base + probe, timeout=2)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield base, process
    finally:
        process.terminate()
        process.wait(timeout=30)


async def _load(
    base: str, path: str, headers: dict[str, str], clients: int, seconds: float
) -> dict[str, float]:
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits) as client:
        for _ in range(clients):  # warm: connections open, caches filled
            (await client.get(path)).raise_for_status()
        stop = time.monotonic() + seconds

        async def one_client() -> None:
            while time.monotonic() < stop:
                started = time.perf_counter()
                answer = await client.get(path)
                latencies.append(time.perf_counter() - started)
                answer.raise_for_status()

        began = time.monotonic()
        await asyncio.gather(*(one_client() for _ in range(clients)))
        elapsed = time.monotonic() - began
    latencies.sort()
    return {
        "requests_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 2),
        "requests": len(latencies),
    }


def _seed_asset(database_url: str) -> tuple[uuid.UUID, str]:
    """Write an image asset's graph (original, four sizes, a job) and a key; return both."""
    from api.keys import Scope, create_key
    from models import graph
    from models.db import make_engine, new_session
    from models.tables import IngestJob, JobStatus, size_format
    from storage.stored import StoredObject

    def stored(n: int, size: int) -> StoredObject:
        digest = f"{n:064x}"
        return StoredObject("filesystem", "objects", f"sha256/{digest}", digest, f"{n:032x}",
                            size, "image/webp", uploaded=True)  # fmt: skip

    engine = make_engine(database_url)
    with new_session(engine) as session:
        project = graph.ensure_project(session=session, name="bench")
        asset = graph.create_asset(
            session=session, project=project, identifier="bench-1", source="https://x.test/a.jpg",
            title="A photo", tags=["bench", "photo"],
        )  # fmt: skip
        original = graph.NewFile("a.jpg", stored(1, 4_000_000), 4000, 3000)
        technical = {"format": "JPEG", "width": 4000, "height": 3000}
        graph.record_format(
            session=session, asset=asset, name="ORIGINAL", files=[original], technical=technical
        )
        for n, edge in enumerate((160, 320, 640, 1280), start=2):
            graph.record_format(session=session, asset=asset, name=size_format(edge),
                                files=[graph.NewFile(f"{edge}.webp", stored(n, edge * 40),
                                                     edge, edge * 3 // 4)])  # fmt: skip
        job, _ = graph.create_job(session=session, kind="ingest", input={"source": "x"})  # type: ignore[arg-type]
        graph.update_job(session=session, job=job, asset_id=asset.id)
        session.flush()
        graph.update_job(session=session, job=job, status=JobStatus.COMPLETED, progress=100)
        key = create_key(session=session, name="bench", scopes=list(Scope)).key
        session.commit()
        asset_id = asset.id
        assert session.get(IngestJob, job.id) is not None
    engine.dispose()
    return asset_id, key


def read_throughput(database_url: str, clients: int, seconds: float) -> dict[str, object]:
    """GET /assets/{id} against the bare constant endpoint, one uvicorn process each."""
    asset_id, key = _seed_asset(database_url)
    env = {"ASSETFLOW_DATABASE_URL": database_url, "PREFECT_API_URL": ""}
    with served("bench.bench_api:bare_app", env, "/constant") as base:
        bare = asyncio.run(_load(base, "/constant", {}, clients, seconds))
    with served("api.app:app_from_environment", env, "/healthz") as base:
        headers = {"Authorization": f"Bearer {key}"}
        api = asyncio.run(_load(base, f"/assets/{asset_id}", headers, clients, seconds))
    ratio = api["requests_per_s"] / bare["requests_per_s"]
    return {
        "clients": clients,
        "bare_constant": bare,
        "get_asset": api,
        "ratio": round(ratio, 3),
        "goal_ratio": GOAL_READ_RATIO,
        "met": ratio >= GOAL_READ_RATIO,
    }


async def _post_tasks(base: str, key: str, count: int, clients: int) -> tuple[float, list[str]]:
    headers = {"Authorization": f"Bearer {key}"}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    ids: list[str] = []
    queue = iter(range(count))
    async with httpx.AsyncClient(
        base_url=base, headers=headers, limits=limits, timeout=60
    ) as client:

        async def one_client() -> None:
            for n in queue:
                body = {"kind": "ingest", "url": f"https://example.com/bench/{n}.jpg"}
                answer = await client.post("/tasks", json=body)
                answer.raise_for_status()
                ids.append(answer.json()["id"])

        began = time.monotonic()
        await asyncio.gather(*(one_client() for _ in range(clients)))
        elapsed = time.monotonic() - began
    return elapsed, ids


def _wait_for_runs(engine: Engine, total: int) -> float:
    """Return the time at which ``total`` jobs have their flow run (or after a long wait)."""
    from sqlalchemy import func
    from sqlmodel import col, select

    from models.db import new_session
    from models.tables import IngestJob

    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    while time.monotonic() < deadline:
        with new_session(engine) as session:
            started = session.exec(
                select(func.count())
                .select_from(IngestJob)
                .where(col(IngestJob.flow_run_id).is_not(None))
            ).one()
        if started >= total:
            break
        time.sleep(0.2)
    return time.monotonic()


def task_throughput(database_url: str, clients: int, count: int) -> dict[str, object]:
    """POST /tasks with the Prefect server configured; every task one job and one flow run."""
    from prefect import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness
    from sqlalchemy import func
    from sqlmodel import col, select

    from api.keys import Scope, create_key
    from core.settings import Settings
    from deployments.serve import deploy_to_pool
    from models.db import make_engine, new_session
    from models.tables import IngestJob

    engine = make_engine(database_url)
    with new_session(engine) as session:
        key = create_key(session=session, name="tasks", scopes=[Scope.ASSETS]).key
        session.commit()
    with prefect_test_harness(server_startup_timeout=STARTUP_TIMEOUT_S):
        deploy_to_pool(Settings(database_url=database_url))
        env = {"ASSETFLOW_DATABASE_URL": database_url, "PREFECT_API_URL": PREFECT_API_URL.value()}
        with served("api.app:app_from_environment", env, "/healthz") as base:
            asyncio.run(_post_tasks(base, key, clients, clients))  # warm
            began = time.monotonic()
            elapsed, ids = asyncio.run(_post_tasks(base, key, count, clients))
            # The API's dispatchers create the flow runs after answering: wait for the last.
            drained = _wait_for_runs(engine, count + clients)
            runs_s = drained - began
        with get_client(sync_client=True) as client:
            runs = client.count_flow_runs(
                deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=["ingest-asset"]))
            )
    with new_session(engine) as session:
        jobs = session.exec(select(func.count()).select_from(IngestJob)).one()
        with_run = session.exec(
            select(func.count(func.distinct(IngestJob.flow_run_id))).where(
                col(IngestJob.flow_run_id).is_not(None)
            )
        ).one()
    engine.dispose()
    rate = count / elapsed
    total = count + clients
    return {
        "clients": clients,
        "tasks": count,
        "tasks_per_s": round(rate, 1),
        "all_runs_created_after_s": round(runs_s, 1),
        "runs_created_per_s": round(count / runs_s, 1),
        "jobs": jobs,
        "jobs_with_a_distinct_run": with_run,
        "flow_runs": runs,
        "each_once": len(set(ids)) == count and jobs == with_run == runs == total,
        "goal_tasks_per_s": GOAL_TASKS_PER_S,
        "met": rate >= GOAL_TASKS_PER_S,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--tasks", type=int, default=400)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        with fresh_database(Path(tmp)) as url:
            reads = read_throughput(url, args.clients, args.seconds)
            print(json.dumps({"get_asset": reads}, indent=2), flush=True)
        with fresh_database(Path(tmp)) as url:
            tasks = task_throughput(url, args.clients, args.tasks)
            print(json.dumps({"post_tasks": tasks}, indent=2), flush=True)


if __name__ == "__main__":
    main()

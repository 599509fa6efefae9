"""Uploads over HTTP into SeaweedFS against minio's ``fput_object``: speed and the API's memory.

One run, one SeaweedFS S3 server on this machine, one bucket, one file of
``--size-mib`` (1 GiB) random bytes:

1. ``Minio.fput_object`` of the file (minio's defaults: 3 parts in parallel):
   the floor to compare with.
2. The file through tus (tuspy, the real client, in pieces of the chunk
   size) to ``assetflow api``, and through the chunked phases (``POST
   /assets`` start, transfer per chunk, finish), each to an API process of
   its own (uvicorn, PostgreSQL when it answers, ingests sent to a Prefect
   server's deployment with no worker: the API process only takes bytes).
   Goals: at least 0.7x fput_object's throughput; the API process's peak RSS
   (VmHWM of the uvicorn process, from /proc) at most 150 MiB plus one chunk.
3. The ingest of the tus upload, run here afterwards: it reads the staged
   object once to name it (sha256, md5) and copies it under its content key on
   the server: the cost the issue asks to measure of a read after finish.

Run: ``uv run python -m bench.bench_upload [--size-mib 1024]``
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

from bench.bench_api import STARTUP_TIMEOUT_S, served_process
from bench.bench_orchestration import fresh_database

MIB = 1024 * 1024
GOAL_RATIO = 0.7
GOAL_BASE_RSS_MIB = 150
BUCKET = "bench"


def make_file(path: Path, size_mib: int) -> str:
    """Write ``size_mib`` MiB of random bytes; return their sha256."""
    digest = hashlib.sha256()
    with path.open("wb") as out:
        for _ in range(size_mib):
            block = os.urandom(MIB)
            digest.update(block)
            out.write(block)
    return digest.hexdigest()


def _memory_mib(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM (peak RSS) of a process, in MiB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = round(int(value.split()[0]) / 1024, 1)
    return fields


def _environment(settings: Any) -> dict[str, str]:
    """The ASSETFLOW_* variables that make ``Settings()`` read ``settings``."""
    env = {}
    for name, value in settings.model_dump().items():
        if value is None:
            continue
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        elif isinstance(value, list):
            value = ",".join(str(item) for item in value)
        env[f"ASSETFLOW_{name.upper()}"] = str(value)
    return env


def fput_baseline(server: Any, path: Path) -> float:
    """Seconds minio's fput_object takes to store the file (its default part size and threads)."""
    from minio import Minio

    client = Minio(
        server.endpoint, access_key=server.access_key, secret_key=server.secret_key, secure=False
    )
    started = time.perf_counter()
    client.fput_object(BUCKET, "baseline/big.bin", str(path))
    return time.perf_counter() - started


def upload_tus(base: str, key: str, path: Path, chunk: int) -> tuple[float, str]:
    """Upload through tus with tuspy in pieces of ``chunk``; return the seconds and the task id."""
    from tusclient.client import TusClient

    client = TusClient(f"{base}/uploads/", headers={"Authorization": f"Bearer {key}"})
    started = time.perf_counter()
    uploader = client.uploader(str(path), chunk_size=chunk, metadata={"filename": path.name})
    uploader.upload()
    seconds = time.perf_counter() - started
    return seconds, uploader.request.response_headers["assetflow-task-id"]


def upload_chunked(base: str, key: str, path: Path, chunk: int) -> tuple[float, str]:
    """Upload through the chunked phases, a chunk a request; return the seconds and the task id."""
    headers = {"Authorization": f"Bearer {key}"}
    size = path.stat().st_size
    with httpx.Client(base_url=base, headers=headers, timeout=600) as client, path.open("rb") as f:
        started = time.perf_counter()
        start = {"upload_phase": "start", "file_size": size, "filename": path.name}
        session = client.post("/assets", json=start).raise_for_status().json()
        offset = 0
        while offset < size:
            form = {"upload_phase": "transfer", "start_offset": str(offset)}
            piece = f.read(session["chunk_size"])
            files = {"file_chunk": (path.name, piece, "application/octet-stream")}
            answer = client.post(f"/assets/{session['id']}/multipart", data=form, files=files)
            offset = answer.raise_for_status().json()["offset"]
        finished = client.post(
            f"/assets/{session['id']}/multipart", json={"upload_phase": "finish"}
        ).raise_for_status()
        seconds = time.perf_counter() - started
    return seconds, finished.json()["id"]


def _through_api(
    env: dict[str, str], upload: Any, key: str, path: Path, chunk: int
) -> dict[str, Any]:
    """Run ``upload`` against a fresh API process; its seconds and the process's memory."""
    with served_process("api.app:app_from_environment", env, "/healthz") as (base, process):
        at_rest = _memory_mib(process.pid)
        seconds, task_id = upload(base, key, path, chunk)
        after = _memory_mib(process.pid)
    return {
        "seconds": round(seconds, 2),
        "rss_at_rest_mib": at_rest["VmRSS"],
        "peak_rss_mib": after["VmHWM"],
        "task_id": task_id,
    }


def ingest_after_upload(task_id: str) -> float:
    """Run the ingest of an uploaded file here; return its seconds (the read after finish)."""
    from core.requests import AssetRequest
    from core.settings import Settings
    from flows.ingest import ingest_asset
    from models.db import make_engine, new_session
    from models.tables import IngestJob

    engine = make_engine(Settings().database_url)
    with new_session(engine) as session:
        job = session.get_one(IngestJob, task_id)
    engine.dispose()
    started = time.perf_counter()
    state = ingest_asset(AssetRequest.model_validate(job.input), job_id=task_id, return_state=True)
    seconds = time.perf_counter() - started
    if not state.is_completed():
        raise RuntimeError(f"the ingest of the upload failed: {state.message}")
    return seconds


def run(size_mib: int, chunk_mib: int | None) -> dict[str, Any]:
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    from api.keys import Scope, create_key
    from core.settings import Settings
    from deployments.serve import deploy_to_pool
    from models.db import make_engine, new_session
    from tests.fixtures.seaweed import S3Server

    with tempfile.TemporaryDirectory(prefix="bench-upload-") as scratch:
        workdir = Path(scratch)
        source = workdir / "big.bin"
        sha256 = make_file(source, size_mib)
        (workdir / "weed").mkdir()
        server = S3Server.configure(workdir / "weed")
        server.start()
        try:
            server.client().make_bucket(BUCKET)
            fput_s = fput_baseline(server, source)
            with fresh_database(workdir) as database_url:
                update: dict[str, Any] = {"database_url": database_url, "temp_dir": workdir}
                if chunk_mib is not None:
                    update["upload_chunk_bytes"] = chunk_mib * MIB
                settings = server.settings(BUCKET).model_copy(update=update)
                os.environ.update(_environment(settings))
                engine = make_engine(database_url)
                with new_session(engine) as session:
                    key = create_key(session=session, name="bench", scopes=[Scope.ASSETS]).key
                    session.commit()
                engine.dispose()
                chunk = settings.upload_chunk_bytes
                with prefect_test_harness(server_startup_timeout=STARTUP_TIMEOUT_S):
                    deploy_to_pool(Settings())
                    env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value())}
                    results = {
                        name: _through_api(env, upload, key, source, chunk)
                        for name, upload in (("tus", upload_tus), ("chunked", upload_chunked))
                    }
                    ingest_s = ingest_after_upload(results["tus"]["task_id"])
        finally:
            server.stop()
    size = size_mib * MIB
    budget = GOAL_BASE_RSS_MIB + chunk / MIB
    report: dict[str, Any] = {
        "size_mib": size_mib,
        "sha256": sha256,
        "chunk_mib": chunk / MIB,
        "fput_object": {"seconds": round(fput_s, 2), "mib_per_s": round(size_mib / fput_s, 1)},
    }
    for name, result in results.items():
        ratio = fput_s / result["seconds"]
        report[name] = {
            **{k: v for k, v in result.items() if k != "task_id"},
            "mib_per_s": round(size / MIB / result["seconds"], 1),
            "ratio_to_fput": round(ratio, 3),
            "goal_ratio": GOAL_RATIO,
            "peak_budget_mib": budget,
            "met": ratio >= GOAL_RATIO and result["peak_rss_mib"] <= budget,
        }
    report["ingest_after_upload_s"] = round(ingest_s, 2)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument(
        "--chunk-mib", type=int, default=None, help="ASSETFLOW_UPLOAD_CHUNK_BYTES in MiB"
    )
    args = parser.parse_args()
    print(json.dumps({"upload": run(args.size_mib, args.chunk_mib)}, indent=2), flush=True)


if __name__ == "__main__":
    sys.exit(main())

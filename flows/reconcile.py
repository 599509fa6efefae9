"""The ``reconcile-jobs`` flow: jobs follow flow runs that died without ending them."""

from __future__ import annotations

from prefect import flow, get_client, get_run_logger

from core.settings import Settings
from flows.hooks import reconcile_jobs
from models.db import engine_for


@flow(name="reconcile-jobs")
def reconcile_jobs_flow() -> int:
    """Fail the jobs whose flow runs crashed, failed or were cancelled; return how many."""
    engine = engine_for(Settings())
    try:
        with get_client(sync_client=True) as client:
            failed = reconcile_jobs(engine, client)
    finally:
        engine.dispose()
    if failed:
        get_run_logger().warning("failed %d job(s) whose flow run ended: %s", len(failed), failed)
    return len(failed)

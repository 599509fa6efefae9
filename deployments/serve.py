"""The deployments of assetflow: served by one process, or applied to a work pool.

    ingest-asset/ingest-asset      one source: manual runs from the UI, submit_ingest()
    batch-ingest/batch-ingest      a manifest; on Settings.batch_schedule_cron when
                                   Settings.batch_manifest names one
    reprocess-asset/reprocess-asset  a new recipe on stored originals
    reconcile-jobs/reconcile-jobs  every 5 minutes: jobs follow runs that died silently
    collect-garbage/collect-garbage  daily: stored objects nothing refers to are removed,
                                   expired upload sessions aborted
    deliver-webhooks/deliver-webhooks  every minute: send due webhook deliveries (a run
                                   sends for most of the minute)

``serve`` runs them all in this process (``assetflow serve``, the single-machine
case). ``deploy_to_pool`` applies them to the process work pool
``Settings.work_pool``, from this checkout, for ``prefect worker start --pool
assetflow`` processes on any machine that has the same checkout at the same path.
"""

from __future__ import annotations

import importlib
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import prefect
from prefect import Flow, get_client
from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.deployments.runner import EntrypointType, RunnerDeployment
from prefect.exceptions import ObjectNotFound
from prefect.schedules import Cron, Interval, Schedule

from core.settings import Settings
from deployments.crash_detection import HEARTBEAT_S, ensure_crash_detection
from flows.derive_video import ensure_transcode_limit
from models.migrate import upgrade_database

PROJECT_ROOT = Path(__file__).resolve().parent.parent
INGEST_DEPLOYMENT = "ingest-asset/ingest-asset"
# Jobs follow dead runs within this even when nobody polls them (get_job reconciles at once).
RECONCILE_EVERY = timedelta(minutes=5)
# Orphans are rare (a run that died between store and record): once a day is plenty.
COLLECT_EVERY = timedelta(days=1)
# A deliver-webhooks run starts this often and sends for most of it (flows/deliver_webhooks.py).
DELIVER_WEBHOOKS_EVERY = timedelta(minutes=1)
# Seconds between a serve process's polls for runs to start (Prefect's default is
# 10): a submitted run starts within this.
POLL_S = 2.0


@dataclass(frozen=True)
class DeploymentSpec:
    """One deployment: which flow (as a module path), its name, schedules and defaults."""

    entrypoint: str
    name: str
    description: str
    schedules: list[Schedule] = field(default_factory=list)
    # Runs of this deployment at once; None: unbounded.
    concurrency_limit: int | None = None
    tags: list[str] = field(default_factory=lambda: ["assetflow"])

    def load(self) -> Flow[..., Any]:
        """Import the flow this deployment runs."""
        module, _, attribute = self.entrypoint.rpartition(".")
        loaded: Flow[..., Any] = getattr(importlib.import_module(module), attribute)
        return loaded

    @property
    def file_entrypoint(self) -> str:
        """The entrypoint as ``path/to/file.py:function``, relative to the project root."""
        module, _, attribute = self.entrypoint.rpartition(".")
        return f"{module.replace('.', '/')}.py:{attribute}"


def deployment_specs(settings: Settings) -> list[DeploymentSpec]:
    """List the deployments for these settings: ingest, batch, reprocess, reconcile, gc, hooks."""
    schedules: list[Schedule] = []
    if settings.batch_manifest:
        schedules.append(
            Cron(settings.batch_schedule_cron, parameters={"manifest": settings.batch_manifest})
        )
    return [
        DeploymentSpec(
            entrypoint="flows.ingest.ingest_asset",
            name="ingest-asset",
            description="Ingest one source: fetch, store, probe, derive, record.",
        ),
        DeploymentSpec(
            entrypoint="flows.batch.batch_ingest",
            name="batch-ingest",
            description="Ingest every item of a manifest (CSV, JSON Lines, or an S3 drop "
            "folder) that is not ingested yet.",
            schedules=schedules,
            # A batch that outlasts its interval is not overtaken by the next one.
            concurrency_limit=1,
        ),
        DeploymentSpec(
            entrypoint="flows.reprocess.reprocess_asset",
            name="reprocess-asset",
            description="Re-run the derivatives of existing assets with a (new) recipe, "
            "from their stored originals.",
        ),
        DeploymentSpec(
            entrypoint="flows.reconcile.reconcile_jobs_flow",
            name="reconcile-jobs",
            description="Fail the jobs whose flow runs died without ending them.",
            schedules=[Interval(RECONCILE_EVERY)],
        ),
        DeploymentSpec(
            entrypoint="flows.collect_garbage.collect_garbage_flow",
            name="collect-garbage",
            description="Remove stored objects no file refers to, once past the grace period.",
            schedules=[Interval(COLLECT_EVERY)],
            concurrency_limit=1,
        ),
        DeploymentSpec(
            entrypoint="flows.deliver_webhooks.deliver_webhooks_flow",
            name="deliver-webhooks",
            description="Send due webhook deliveries, signed, with retries (Standard Webhooks).",
            schedules=[Interval(DELIVER_WEBHOOKS_EVERY)],
            # One sender per minute is plenty; a late run does not pile onto the next.
            concurrency_limit=1,
        ),
    ]


def runner_deployments(settings: Settings) -> list[RunnerDeployment]:
    """Build the deployments for serving in this process."""
    # to_deployment and from_source also return a coroutine when called from async code.
    return [
        cast(
            RunnerDeployment,
            spec.load().to_deployment(
                spec.name,
                description=spec.description,
                schedules=spec.schedules,
                concurrency_limit=spec.concurrency_limit,
                tags=spec.tags,
                # Importable wherever the package is installed, whatever the working directory.
                entrypoint_type=EntrypointType.MODULE_PATH,
            ),
        )
        for spec in deployment_specs(settings)
    ]


def prepare_server(settings: Settings) -> None:
    """Migrate the asset store; install crash detection and the transcode limit on the server."""
    upgrade_database(settings.database_url)
    with get_client(sync_client=True) as client:
        ensure_crash_detection(client, silent_s=settings.crash_after_silent_s)
    ensure_transcode_limit(settings)


def serve(settings: Settings, *, limit: int | None = None) -> None:
    """Serve every deployment from this process until interrupted."""
    prepare_server(settings)
    prefect.serve(
        *runner_deployments(settings),
        limit=limit,
        query_seconds=POLL_S,
        heartbeat_seconds=HEARTBEAT_S,
    )


def ensure_work_pool(client: SyncPrefectClient, name: str) -> None:
    """Create the process work pool ``name`` unless it exists."""
    try:
        client.read_work_pool(name)
    except ObjectNotFound:
        client.create_work_pool(WorkPoolCreate(name=name, type="process"))


def deploy_to_pool(settings: Settings) -> list[uuid.UUID]:
    """Apply every deployment to the work pool, run from this checkout; return their ids."""
    prepare_server(settings)
    with get_client(sync_client=True) as client:
        ensure_work_pool(client, settings.work_pool)
    deployments = [
        cast(
            RunnerDeployment,
            # A local source: the worker's pull step changes into this directory.
            cast(
                Flow[..., Any],
                Flow.from_source(source=PROJECT_ROOT, entrypoint=spec.file_entrypoint),
            ).to_deployment(
                spec.name,
                description=spec.description,
                schedules=spec.schedules,
                concurrency_limit=spec.concurrency_limit,
                tags=spec.tags,
                # The worker's flow processes beat often enough for crash detection.
                job_variables={"env": {"PREFECT_FLOWS_HEARTBEAT_FREQUENCY": str(HEARTBEAT_S)}},
            ),
        )
        for spec in deployment_specs(settings)
    ]
    # One call, one table of what was applied. Its advice to serve instead does not
    # apply: workers on other machines run these. (A coroutine only from async code.)
    ids = cast(
        list[uuid.UUID],
        prefect.deploy(
            *deployments,
            work_pool_name=settings.work_pool,
            build=False,
            push=False,
            print_next_steps_message=False,
            ignore_warnings=True,
        ),
    )
    return [uuid.UUID(str(deployment_id)) for deployment_id in ids]


if __name__ == "__main__":
    serve(Settings())

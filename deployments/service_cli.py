"""The commands that run assetflow as a service: serve, deploy, submit, job."""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict
from typing import Annotated

import typer

from core.requests import AssetRequest
from core.settings import Settings
from deployments.request_options import takes_request
from deployments.serve import deploy_to_pool, serve
from deployments.submit import JobView, get_job, submit_ingest
from models.tables import JobStatus


def serve_command(
    limit: Annotated[int | None, typer.Option(min=1, help="Flow runs at once")] = None,
) -> None:
    """Serve the deployments from this process (one machine; no work pool needed)."""
    serve(Settings(), limit=limit)


def deploy() -> None:
    """Apply the deployments to the work pool, for `prefect worker start --pool assetflow`."""
    settings = Settings()
    ids = deploy_to_pool(settings)
    typer.echo(f"{len(ids)} deployments on work pool {settings.work_pool!r}; start a worker with:")
    typer.echo(f"    uv run prefect worker start --pool {settings.work_pool}")


@takes_request
def submit(
    request: AssetRequest,
    key: Annotated[str | None, typer.Option(help="Idempotency key: resubmits are one job")] = None,
    wait: Annotated[bool, typer.Option(help="Wait for the job to end")] = False,
) -> None:
    """Submit a source to the ingest-asset deployment and print its job as JSON."""
    _print(submit_ingest(request, idempotency_key=key, wait=wait))


def job(job_id: Annotated[uuid.UUID, typer.Argument(help="The job's id")]) -> None:
    """Print a job as JSON: status, progress, asset id, error, flow run id."""
    _print(get_job(job_id))


def _print(view: JobView) -> None:
    typer.echo(json.dumps(asdict(view), default=str))
    if view.status == JobStatus.FAILED:
        raise typer.Exit(code=1)

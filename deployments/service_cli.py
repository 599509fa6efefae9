"""The commands that run assetflow as a service: serve, deploy, submit, job.

Each imports Prefect when it runs (``job`` only for a job still under way),
so the CLI starts without it.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict
from typing import TYPE_CHECKING, Annotated

import typer

from core.requests import AssetRequest
from deployments.request_options import takes_request

if TYPE_CHECKING:
    from deployments.job_status import JobView


def serve_command(
    limit: Annotated[int | None, typer.Option(min=1, help="Flow runs at once")] = None,
) -> None:
    """Serve the deployments from this process (one machine; no work pool needed)."""
    from core.settings import Settings
    from deployments.cli_errors import service_errors
    from deployments.serve import serve

    with service_errors():
        serve(Settings(), limit=limit)


def deploy(
    hint: Annotated[bool, typer.Option(help="Say how to start a worker")] = True,
) -> None:
    """Apply the deployments to the work pool, for `prefect worker start --pool assetflow`."""
    from core.settings import Settings
    from deployments.cli_errors import service_errors
    from deployments.serve import deploy_to_pool

    settings = Settings()
    with service_errors():
        ids = deploy_to_pool(settings)
    typer.echo(f"{len(ids)} deployments on work pool {settings.work_pool!r}")
    if hint:
        typer.echo(f"start a worker with:  uv run prefect worker start --pool {settings.work_pool}")


@takes_request
def submit(
    request: AssetRequest,
    key: Annotated[str | None, typer.Option(help="Idempotency key: resubmits are one job")] = None,
    wait: Annotated[bool, typer.Option(help="Wait for the job to end")] = False,
) -> None:
    """Submit a source to the ingest-asset deployment and print its job as JSON."""
    from deployments.cli_errors import service_errors
    from deployments.submit import submit_ingest

    with service_errors():
        view = submit_ingest(request, idempotency_key=key, wait=wait)
    _print(view)


def job(job_id: Annotated[uuid.UUID, typer.Argument(help="The job's id")]) -> None:
    """Print a job as JSON: status, progress, asset id, error, flow run id."""
    from sqlalchemy.exc import NoResultFound

    from core.environment import database_url
    from deployments.cli_errors import fail, store_errors
    from deployments.job_status import get_job

    with store_errors(database_url()):
        try:
            view = get_job(job_id)
        except NoResultFound as exc:
            fail(f"no job {job_id}", code=1, cause=exc)
    _print(view)


def _print(view: JobView) -> None:
    typer.echo(json.dumps(asdict(view), default=str, indent=2))
    if view.status == "failed":
        raise typer.Exit(code=1)

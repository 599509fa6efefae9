"""The ``assetflow`` command line."""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from core.requests import AssetRequest
from core.settings import Settings
from deployments.render import render_tree
from deployments.request_options import takes_request
from flows.ingest import ingest_asset
from models.db import make_engine, new_session
from models.fingerprints import SqlFingerprintIndex
from models.migrate import upgrade_database
from models.queries import list_assets, load_asset_graph
from models.similarity import similar_to_asset
from models.tables import JobStatus
from tasks.audio.matching import match_clip
from tasks.images.hashes import PHASH_MAX_DISTANCE

app = typer.Typer(help="Self-hosted media ingestion: fetch, store, probe, derive, record.")
db_app = typer.Typer(help="The asset store's schema.")
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the schema migrations to the configured database."""
    upgrade_database(Settings().database_url)
    typer.echo("database is up to date")


@app.command()
@takes_request
def ingest(
    request: AssetRequest,
    as_json: Annotated[bool, typer.Option("--json", help="Print the outcome as JSON")] = False,
) -> None:
    """Ingest one source in this process and print the resulting asset graph."""
    settings = Settings()
    upgrade_database(settings.database_url)
    outcome = ingest_asset(request)
    if as_json:
        typer.echo(json.dumps(asdict(outcome), default=str))
    elif outcome.asset_id is not None:
        show_graph(settings, outcome.asset_id)
    elif outcome.existing_asset_id is not None:
        show_graph(settings, outcome.existing_asset_id)
    if outcome.status is not JobStatus.COMPLETED:
        if not as_json:
            typer.echo(f"error: {outcome.error}", err=True)
        raise typer.Exit(code=1)


@app.command()
def show(asset_id: Annotated[uuid.UUID, typer.Argument(help="The asset's id")]) -> None:
    """Print an asset's graph as a tree."""
    show_graph(Settings(), asset_id)


@app.command("ls")
def list_command(
    project: Annotated[str | None, typer.Option(help="Only this project")] = None,
    limit: Annotated[int, typer.Option(min=1)] = 50,
) -> None:
    """List the newest assets."""
    engine = make_engine(Settings().database_url)
    with new_session(engine) as session:
        for asset, project_name in list_assets(session=session, project=project, limit=limit):
            typer.echo(
                f"{asset.id}  {asset.status:<10} {asset.kind:<8} {project_name}/{asset.identifier}"
            )


@app.command()
def similar(
    asset_id: Annotated[uuid.UUID, typer.Argument(help="An image asset's id")],
    max_distance: Annotated[
        int, typer.Option(min=0, max=64, help="Most bits the phashes may differ by")
    ] = PHASH_MAX_DISTANCE,
) -> None:
    """List the images that look like this one, nearest first."""
    engine = make_engine(Settings().database_url)
    with new_session(engine) as session:
        found = similar_to_asset(session=session, asset_id=asset_id, max_distance=max_distance)
    if not found:
        typer.echo("no similar images")
    for other in found:
        typer.echo(f"{other.asset_id}  {other.distance:2d} bits")


@app.command()
def match(
    clip: Annotated[
        Path, typer.Argument(help="An audio or video clip", exists=True, dir_okay=False)
    ],
    top: Annotated[int, typer.Option(min=1, help="How many assets to list")] = 5,
) -> None:
    """Find the assets a clip was cut from, with the offset in seconds and a score."""
    engine = make_engine(Settings().database_url)
    with new_session(engine) as session:
        matches = match_clip(clip, index=SqlFingerprintIndex(session), top=top)
    if not matches:
        typer.echo("no match")
        raise typer.Exit(code=1)
    for found in matches:
        typer.echo(f"{found.asset_id}  at {found.offset_s:8.2f} s  score {found.score:.3f}")


def show_graph(settings: Settings, asset_id: uuid.UUID) -> None:
    """Print an asset's graph as a tree, or exit 1 when there is no such asset."""
    engine = make_engine(settings.database_url)
    with new_session(engine) as session:
        graph = load_asset_graph(session=session, asset_id=asset_id)
        if graph is None:
            typer.echo(f"error: no asset {asset_id}", err=True)
            raise typer.Exit(code=1)
        typer.echo(render_tree(graph))


from deployments.batch_cli import batch  # noqa: E402

app.command()(batch)

from deployments.service_cli import deploy, job, serve_command, submit  # noqa: E402

app.command("serve")(serve_command)
app.command()(deploy)
app.command()(submit)
app.command()(job)

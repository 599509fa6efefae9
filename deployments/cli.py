"""The ``assetflow`` command line.

A command imports what it needs when it runs, not when the CLI starts: ``ls``,
``show``, ``similar`` and ``job`` answer at once, without loading Prefect,
yt-dlp or the media libraries that ``ingest`` and ``batch`` need
(bench/bench_cli.py times them). Every command that prints data takes
``--json`` and prints one JSON document (the shapes are in the README).
"""

from __future__ import annotations

import gc as python_gc
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from core.kinds import AssetKind
from core.requests import AssetRequest
from deployments.api_cli import api_command, keys_app
from deployments.batch_cli import batch
from deployments.gc_cli import gc
from deployments.request_options import takes_request
from deployments.service_cli import deploy, job, serve_command, submit

if TYPE_CHECKING:
    from sqlmodel import Session

# Plain help: typer's rich-rendered help costs a third of a second of imports.
app = typer.Typer(
    help="Self-hosted media ingestion: fetch, store, probe, derive, record.",
    rich_markup_mode=None,
)
db_app = typer.Typer(help="The asset store's schema.", rich_markup_mode=None)
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")

AS_JSON = typer.Option("--json", help="Print JSON (see the README for its shape)")


def print_json(value: Any) -> None:
    """Print one JSON document: ids, times and enums as strings."""
    typer.echo(json.dumps(value, default=str, indent=2))


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the schema migrations to the configured database."""
    from core.settings import Settings
    from models.migrate import upgrade_database

    upgrade_database(Settings().database_url)
    typer.echo("database is up to date")


@app.command()
@takes_request
def ingest(request: AssetRequest, as_json: Annotated[bool, AS_JSON] = False) -> None:
    """Ingest one source in this process and print the resulting asset graph."""
    from dataclasses import asdict

    from core.settings import Settings
    from flows.ingest import ingest as ingest_here
    from models.migrate import upgrade_database

    settings = Settings()
    upgrade_database(settings.database_url)
    outcome = ingest_here(request)
    if as_json:
        print_json(asdict(outcome))
    elif (shown := outcome.asset_id or outcome.existing_asset_id) is not None:
        show_graph(shown, as_json=False)
    if outcome.failed:
        if not as_json:
            typer.echo(f"error: {outcome.error}", err=True)
        raise typer.Exit(code=1)


@app.command()
def show(
    asset_id: Annotated[uuid.UUID, typer.Argument(help="The asset's id")],
    as_json: Annotated[bool, AS_JSON] = False,
) -> None:
    """Print an asset's graph as a tree."""
    show_graph(asset_id, as_json=as_json)


@app.command("ls")
def list_command(
    project: Annotated[str | None, typer.Option(help="Only this project")] = None,
    kind: Annotated[AssetKind | None, typer.Option(help="Only this kind")] = None,
    status: Annotated[
        str | None,
        typer.Option(help="Only this status: pending, processing, ready, failed, deleted"),
    ] = None,
    tag: Annotated[str | None, typer.Option(help="Only assets with this tag")] = None,
    cursor: Annotated[
        str | None, typer.Option(help="Continue after the page that printed this cursor")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    as_json: Annotated[bool, AS_JSON] = False,
) -> None:
    """List assets, newest first, a page at a time (the next page's cursor goes to stderr)."""
    from deployments.render import asset_json
    from models.listing import AssetFilter, InvalidCursor, list_assets
    from models.tables import AssetStatus

    try:
        chosen_status = None if status is None else AssetStatus(status)
    except ValueError as exc:
        choices = ", ".join(AssetStatus)
        raise typer.BadParameter(
            f"{status!r} is not one of {choices}", param_hint="--status"
        ) from exc
    filters = AssetFilter(project=project, kind=kind, status=chosen_status, tag=tag)
    with store_session() as session:
        try:
            page = list_assets(session=session, filters=filters, cursor=cursor, limit=limit)
        except InvalidCursor as exc:
            raise typer.BadParameter(str(exc), param_hint="--cursor") from exc
    if as_json:
        print_json([asset_json(asset, project_name) for asset, project_name in page.rows])
    for asset, project_name in [] if as_json else page.rows:
        typer.echo(
            f"{asset.id}  {asset.status:<10} {asset.kind:<8} {project_name}/{asset.identifier}"
        )
    if page.next_cursor is not None:
        typer.echo(f"next page: assetflow ls --cursor {page.next_cursor}", err=True)


@app.command()
def similar(
    asset_id: Annotated[uuid.UUID, typer.Argument(help="An image asset's id")],
    max_distance: Annotated[
        int | None,
        typer.Option(
            min=0, help="Most bits the phashes may differ by, at most 15 [default: near duplicates]"
        ),
    ] = None,
    as_json: Annotated[bool, AS_JSON] = False,
) -> None:
    """List the images that look like this one, nearest first."""
    from models.similarity import similar_to_asset

    chosen = {} if max_distance is None else {"max_distance": max_distance}
    with store_session() as session:
        try:
            found = similar_to_asset(session=session, asset_id=asset_id, **chosen)
        except ValueError as exc:  # past the largest distance searched
            raise typer.BadParameter(str(exc), param_hint="--max-distance") from exc
    if as_json:
        print_json([{"asset_id": other.asset_id, "distance": other.distance} for other in found])
        return
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
    as_json: Annotated[bool, AS_JSON] = False,
) -> None:
    """Find the assets a clip was cut from, with the offset in seconds and a score."""
    from models.fingerprints import SqlFingerprintIndex
    from tasks.audio.matching import match_clip

    with store_session() as session:
        matches = match_clip(clip, index=SqlFingerprintIndex(session), top=top)
    if as_json:
        print_json(
            [{"asset_id": m.asset_id, "offset_s": m.offset_s, "score": m.score} for m in matches]
        )
    else:
        for found in matches:
            typer.echo(f"{found.asset_id}  at {found.offset_s:8.2f} s  score {found.score:.3f}")
        if not matches:
            typer.echo("no match")
    if not matches:
        raise typer.Exit(code=1)


def show_graph(asset_id: uuid.UUID, *, as_json: bool) -> None:
    """Print an asset's graph as a tree (or JSON), or exit 1 when there is no such asset."""
    from deployments.render import graph_json, render_tree
    from models.queries import load_asset_graph

    with store_session() as session:
        graph = load_asset_graph(session=session, asset_id=asset_id)
        if graph is None:
            typer.echo(f"error: no asset {asset_id}", err=True)
            raise typer.Exit(code=1)
        if as_json:
            print_json(graph_json(graph))
        else:
            typer.echo(render_tree(graph))


@contextmanager
def store_session() -> Iterator[Session]:
    """Open a session on the configured asset store; close it and its engine after."""
    from core.environment import database_url
    from deployments.cli_errors import store_errors
    from models.db import make_engine, new_session

    url = database_url()
    engine = make_engine(url)
    try:
        with store_errors(url), new_session(engine) as session:
            yield session
    finally:
        engine.dispose()


def main() -> None:
    """Run the command line: the ``assetflow`` console script."""
    try:
        app()
    finally:
        # The interpreter's last collection at exit walks every object the imports
        # made (SQLAlchemy's, pydantic's, the tables'): a third of a second of CPU
        # here, as the process ends (bench/bench_cli.py). Frozen objects are left
        # out of it; atexit handlers and the rest of the teardown still run.
        python_gc.freeze()


app.command()(batch)
app.command()(gc)
app.command("serve")(serve_command)
app.command()(deploy)
app.command()(submit)
app.command()(job)
app.command("api")(api_command)

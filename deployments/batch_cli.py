"""``assetflow batch MANIFEST``: run the batch flow in this process, with a progress bar.

The flow, Prefect and rich are imported when the command runs, not when the CLI starts.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from flows.batch import BatchSummary

_STYLES = {"completed": "green", "failed": "red", "skipped": "yellow"}


def batch(
    manifest: Annotated[
        str,
        typer.Argument(
            help="CSV or JSON Lines manifest (path, http(s) URL, s3://bucket/key.csv) "
            "or an s3://bucket/prefix/ drop folder"
        ),
    ],
    concurrency: Annotated[
        int | None,
        typer.Option(min=1, help="Items ingested at once [default: ASSETFLOW_BATCH_CONCURRENCY]"),
    ] = None,
    project: Annotated[str, typer.Option(help="Project of items that name none")] = "default",
    items_per_task: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=100,
            help="Most items one task run ingests [default: ASSETFLOW_BATCH_ITEMS_PER_TASK]",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON")] = False,
) -> None:
    """Ingest every item of a manifest not ingested yet; exit 1 if any item failed."""
    from core.settings import Settings
    from flows.derive_video import ensure_transcode_limit
    from models.migrate import upgrade_database

    settings = Settings()
    upgrade_database(settings.database_url)
    ensure_transcode_limit(settings)
    summary = _run_with_progress(
        manifest, concurrency=concurrency, project=project, items_per_task=items_per_task
    )
    if as_json:
        typer.echo(summary.model_dump_json(indent=2))
    else:
        _print_summary(summary)
    if summary.failed:
        raise typer.Exit(code=1)


def _run_with_progress(
    manifest: str, *, concurrency: int | None, project: str, items_per_task: int | None
) -> BatchSummary:
    """Run the flow while a progress line on stderr counts the items as they end."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from flows.batch import BatchRow, ItemStatus, batch_flow
    from flows.run_states import result_of

    counts: Counter[ItemStatus] = Counter()
    # The manifest streams, so the total is unknown until the end: the bar pulses.
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed} items"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as progress:
        bar = progress.add_task("ingesting", total=None)

        def advance(row: BatchRow) -> None:
            counts[row.status] += 1
            described = ", ".join(f"{counts[status]} {status}" for status in ItemStatus)
            progress.update(bar, advance=1, description=described)

        state = batch_flow(on_row=advance)(
            manifest,
            concurrency=concurrency or 0,
            project=project,
            items_per_task=items_per_task or 0,
            return_state=True,
        )
        summary: BatchSummary = result_of(state)
        return summary


def _print_summary(summary: BatchSummary) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"batch {summary.manifest}")
    for column in ("line", "identifier", "status", "asset id", "error / note"):
        table.add_column(column, overflow="fold")
    for row in summary.rows:
        table.add_row(
            str(row.line),
            row.identifier or "",
            f"[{_STYLES[row.status]}]{row.status}[/]",
            str(row.asset_id or ""),
            row.error or row.note or "",
        )
    console = Console()
    console.print(table)
    console.print(
        f"{summary.total} items: {summary.completed} completed, "
        f"{summary.failed} failed, {summary.skipped} skipped"
    )

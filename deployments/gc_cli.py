"""``assetflow gc``: remove stored objects no live asset refers to (models/gc.py), here.

It also sweeps upload sessions (models/uploads.py): expired ones are aborted.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Annotated

import typer


def gc(
    grace: Annotated[
        float | None,
        typer.Option(
            min=0,
            help="Keep objects written or claimed less than this many seconds ago "
            "[default: ASSETFLOW_GC_GRACE_S]",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what would be removed; remove nothing")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON")] = False,
) -> None:
    """Remove stored objects no live asset refers to, after the grace period; say the bytes freed.

    Also aborts expired upload sessions (their S3 multipart uploads or staging
    files) and removes what ingested uploads left in staging.

    Exits 1 when some file's object is missing from the store, 2 when the
    asset store cannot be reached.
    """
    from core.errors import StorageUnavailable
    from core.settings import Settings
    from models.db import engine_for
    from models.gc import collect_garbage
    from models.uploads import UploadSweep, sweep_uploads
    from storage import open_store

    settings = Settings()
    engine = engine_for(settings)
    store = open_store(settings)
    try:
        report = collect_garbage(
            engine,
            store,
            grace_s=settings.gc_grace_s if grace is None else grace,
            dry_run=dry_run,
        )
        sweep = UploadSweep(0, 0, 0) if dry_run else sweep_uploads(engine, store)
    except StorageUnavailable as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from exc
    finally:
        engine.dispose()
    if as_json:
        typer.echo(json.dumps(asdict(report) | {"uploads": asdict(sweep)}, indent=2))
    else:
        verb = "would remove" if report.dry_run else "removed"
        typer.echo(
            f"{verb} {report.collected} of {report.objects} objects "
            f"({_size(report.freed_bytes)}); {report.recent} unreferenced but younger than "
            f"{report.grace_s:g} s kept"
        )
        if not dry_run:
            typer.echo(
                f"aborted {sweep.expired} expired uploads and {sweep.strays} stray ones; "
                f"cleared {sweep.done} ingested ones"
            )
        if report.missing:
            typer.echo(
                f"error: {report.missing} stored contents that files refer to are missing "
                "from the store",
                err=True,
            )
    if report.missing:
        raise typer.Exit(code=1)


def _size(count: int) -> str:
    size = float(count)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")

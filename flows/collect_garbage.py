"""The ``collect-garbage`` flow: stored objects nothing refers to are removed (models/gc.py)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from prefect import flow, get_run_logger

from core.forms import titled
from core.settings import Settings
from models.db import engine_for
from models.gc import collect_garbage
from models.uploads import sweep_uploads
from storage import open_store


@flow(name="collect-garbage")
def collect_garbage_flow(
    dry_run: Annotated[bool, titled("Dry run")] = False,
) -> dict[str, Any]:
    """Remove stored objects no file refers to, once older than ASSETFLOW_GC_GRACE_S.

    Also aborts expired upload sessions and clears what ingested ones left.

    Args:
        dry_run: Only count what would be removed.
    """
    settings = Settings()
    engine = engine_for(settings)
    store = open_store(settings)
    try:
        report = collect_garbage(engine, store, grace_s=settings.gc_grace_s, dry_run=dry_run)
        sweep = None if dry_run else sweep_uploads(engine, store)
    finally:
        engine.dispose()
    logger = get_run_logger()
    logger.info(
        "%s %d of %d objects, %d bytes; %d recent kept",
        "would remove" if dry_run else "removed",
        report.collected,
        report.objects,
        report.freed_bytes,
        report.recent,
    )
    if sweep is not None:
        logger.info(
            "aborted %d expired and %d stray uploads; cleared %d ingested",
            sweep.expired,
            sweep.strays,
            sweep.done,
        )
    if report.missing:
        logger.error("%d stored contents that files refer to are missing", report.missing)
    return asdict(report)

"""One ingest, start to end: fetch, store, classify, record the original, derive, finish.

A plain function that the flows call: ``ingest-asset`` for one source, and the
batch flow's per-item task for many. The steps inside are Prefect tasks.
"""

from __future__ import annotations

import dataclasses
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prefect import get_run_logger
from sqlalchemy import Engine

from core.errors import IdentifierConflict, IngestError
from core.redact import redact_source
from core.settings import Settings
from flows.derivation import DeriveContext
from flows.jobs import current_flow_run_id, fail_job, finish_job
from flows.recipes import RecipeOptions, run_recipe
from flows.requests import AssetRequest
from flows.steps import Fetched, fetch_step, store_step
from models import graph
from models.db import new_session
from models.tables import ORIGINAL, Asset, AssetStatus, IngestJob, JobKind, JobStatus
from storage.stored import StoredObject
from tasks.sniff import Sniffed, check_declared_media, sniff_file


@dataclass(frozen=True)
class IngestOutcome:
    """How one ingest ended: the ids to look up and, when it failed, why."""

    job_id: uuid.UUID | None
    asset_id: uuid.UUID | None
    status: JobStatus
    error: str | None = None
    # On an identifier conflict: the asset that already holds the identifier.
    existing_asset_id: uuid.UUID | None = None


def ingest_one(
    request: AssetRequest,
    *,
    job_id: uuid.UUID | None,
    settings: Settings,
    engine: Engine,
    recipe: RecipeOptions | None = None,
) -> IngestOutcome:
    """Ingest one source into the asset graph and report how it ended.

    A failure the user can act on (a 404, a corrupt file, an identifier
    conflict) ends the job and the asset failed with its message and is
    returned, not raised, so a batch goes on; anything unexpected is recorded
    the same way and re-raised so the run fails loudly.
    """
    logger = get_run_logger()
    try:
        job, asset = _open_ingest(engine, request, job_id=job_id)
    except IdentifierConflict as exc:
        # Nothing new is written but the submitted job's outcome.
        logger.warning("not ingesting %s: %s", redact_source(request.source), exc)
        if job_id is not None:
            fail_job(engine, job_id, str(exc))
        return IngestOutcome(job_id, None, JobStatus.FAILED, str(exc), exc.existing_id)
    try:
        _ingest(engine, settings, asset, source=request.source, recipe=recipe or RecipeOptions())
    except IngestError as exc:
        logger.error("ingest of %s failed: %s", asset.source, exc)
        finish_job(engine, job.id, asset.id, error=str(exc))
        return IngestOutcome(job.id, asset.id, JobStatus.FAILED, str(exc))
    except BaseException as exc:
        finish_job(engine, job.id, asset.id, error=f"internal error: {type(exc).__name__}: {exc}")
        raise
    finish_job(engine, job.id, asset.id, error=None)
    logger.info("ingested %s as asset %s", asset.source, asset.id)
    return IngestOutcome(job.id, asset.id, JobStatus.COMPLETED)


def _ingest(
    engine: Engine, settings: Settings, asset: Asset, *, source: str, recipe: RecipeOptions
) -> None:
    """Do the work of one ingest; ``source`` is the unredacted one, kept in memory only."""
    with tempfile.TemporaryDirectory(prefix="assetflow-", dir=settings.temp_dir) as work:
        work_dir = Path(work)
        fetch = fetch_step(source, dest_dir=work_dir, settings=settings)
        fetched = fetch.file
        sniffed = sniff_file(fetched.path, declared_type=fetched.content_type)
        check_declared_media(sniffed, declared_type=fetched.content_type, filename=fetched.filename)
        stored = store_step(fetched, content_type=sniffed.content_type, settings=settings)
        _record_original(engine, asset.id, fetch, sniffed, stored)
        run_recipe(
            DeriveContext(
                settings=settings,
                engine=engine,
                asset_id=asset.id,
                kind=sniffed.kind,
                original=fetched.path,
                original_sha256=fetched.sha256,
                work_dir=work_dir,
            ),
            recipe,
        )


def _open_ingest(
    engine: Engine, request: AssetRequest, *, job_id: uuid.UUID | None
) -> tuple[IngestJob, Asset]:
    """Create (or take up) the job and create the asset, in one transaction.

    An asset whose earlier ingest failed is taken up again under its
    identifier (a re-run retries it, with the request's source and fields);
    a ready or processing one is a conflict.
    """
    source = redact_source(request.source)
    fields: dict[str, Any] = {
        "source": source,
        "title": request.title,
        "description": request.description,
        "category": request.category,
        "tags": request.tags,
        "external_id": request.external_id,
    }
    with new_session(engine) as session:
        project = graph.ensure_project(session=session, name=request.project)
        try:
            asset = graph.create_asset(
                session=session,
                project=project,
                identifier=request.identifier or source,
                **fields,
            )
        except IdentifierConflict as conflict:
            if conflict.existing_id is None:
                raise
            # Locked so two runs retrying the same failed asset cannot both take it up.
            asset = session.get_one(
                Asset, conflict.existing_id, with_for_update=True, populate_existing=True
            )
            if asset.status != AssetStatus.FAILED:
                raise
            graph.update_asset(session=session, asset=asset, error=None, **fields)
        if job_id is None:
            job, _ = graph.create_job(
                session=session,
                kind=JobKind.INGEST,
                input=request.model_dump(mode="json") | {"source": source},
            )
        else:
            job = session.get_one(IngestJob, job_id)
        graph.update_job(
            session=session,
            job=job,
            status=JobStatus.RUNNING,
            asset_id=asset.id,
            flow_run_id=current_flow_run_id(),
        )
        graph.update_asset(session=session, asset=asset, status=AssetStatus.PROCESSING)
        session.commit()
        return job, asset


def _record_original(
    engine: Engine,
    asset_id: uuid.UUID,
    fetch: Fetched,
    sniffed: Sniffed,
    stored: StoredObject,
) -> None:
    """Record the ORIGINAL format and what the fetch learnt (a video page's title)."""
    fetched, page = fetch.file, fetch.page
    with new_session(engine) as session:
        asset = session.get_one(Asset, asset_id)
        graph.record_format(
            session=session,
            asset=asset,
            name=ORIGINAL,
            technical={"page": dataclasses.asdict(page)} if page else {},
            files=[graph.NewFile(name=fetched.filename or "original", stored=stored)],
        )
        graph.update_asset(
            session=session,
            asset=asset,
            kind=sniffed.kind,
            content_type=sniffed.content_type,
            original_filename=fetched.filename,
            title=asset.title or (page.title if page else None),
        )
        session.commit()

"""One ingest, start to end: fetch, sniff, store, record the original, run the recipe.

A plain function that the flows call: ``ingest-asset`` for one source (its
steps task runs), and the batch's ``ingest-items`` task for many (its steps
inline, see flows/runtime.py). The job around it is flows/jobs.py's.
"""

from __future__ import annotations

import dataclasses
import tempfile
import uuid
from pathlib import Path

from prefect import get_run_logger
from sqlalchemy import Engine
from sqlmodel import Session

from core.errors import DatabaseUnavailable, IdentifierConflict, IngestError
from core.settings import Settings
from flows.fetch_store import FetchResult, claim, fetch_step, store_step
from flows.jobs import JobOutcome, StartedJob, fail_job, forget_source, run_job, start_ingest
from flows.recipes import RecipeOptions, run_recipe
from flows.runtime import DeriveContext, StepMode, current_flow_run_id
from models import graph
from models.db import transact
from models.fingerprints import remove_track_fingerprints
from models.gc import Content
from models.tables import ORIGINAL, Asset, JobStatus
from storage.stored import StoredObject
from tasks.sniff import Sniffed, check_declared_media, sniff_file
from tasks.upload_fetch import discard_upload


def ingest_one(
    job_id: uuid.UUID,
    *,
    settings: Settings,
    engine: Engine,
    mode: StepMode,
    recipe: RecipeOptions,
) -> JobOutcome:
    """Ingest the job's source into the asset graph and report how it ended.

    An identifier already used by a ready or processing asset fails the job
    and writes nothing else. A database down past the outage window before
    the job started fails the item with that sentence; the job stays pending
    until its run has ended (flows/hooks.py reconciles it).
    """
    logger = get_run_logger()
    flow_run_id = current_flow_run_id()
    try:
        started, request = start_ingest(
            engine, job_id, flow_run_id=flow_run_id, lease_s=settings.lease_s
        )
    except DatabaseUnavailable as exc:
        logger.error("could not start job %s: %s", job_id, exc)
        return JobOutcome(job_id, None, JobStatus.FAILED, str(exc))
    except IdentifierConflict as exc:
        logger.warning("not ingesting job %s: %s", job_id, exc)
        fail_job(engine, job_id, str(exc), flow_run_id=flow_run_id)
        return JobOutcome(job_id, None, JobStatus.FAILED, str(exc), exc.existing_id)
    outcome = run_job(
        engine,
        started,
        lambda: _ingest(
            started, request.source, settings=settings, engine=engine, mode=mode, recipe=recipe
        ),
    )
    shown = request.redacted().source
    if outcome.failed:
        logger.error("ingest of %s failed: %s", shown, outcome.error)
    else:
        logger.info("ingested %s as asset %s", shown, outcome.asset_id)
    return outcome


def _ingest(
    started: StartedJob,
    source: str,
    *,
    settings: Settings,
    engine: Engine,
    mode: StepMode,
    recipe: RecipeOptions,
) -> None:
    """Do the work of one ingest; ``source`` is the one given, erased from the job once fetched.

    An upload's staged bytes are gone once it ends, stored or not.
    """
    try:
        _ingest_in(started, source, settings=settings, engine=engine, mode=mode, recipe=recipe)
    finally:
        discard_upload(source, settings=settings)


def _ingest_in(
    started: StartedJob,
    source: str,
    *,
    settings: Settings,
    engine: Engine,
    mode: StepMode,
    recipe: RecipeOptions,
) -> None:
    with tempfile.TemporaryDirectory(prefix="assetflow-", dir=settings.temp_dir) as work:
        work_dir = Path(work)
        try:
            fetch = fetch_step.run(mode, source, dest_dir=work_dir, settings=settings)
        finally:
            forget_source(engine, started.job_id)
        fetched = fetch.file
        sniffed = sniff_file(
            fetched.path, declared_type=fetched.content_type, filename=fetched.filename
        )
        check_declared_media(sniffed)
        claim(engine, settings, [Content(fetched.digest, sniffed.content_type)])
        stored = store_step.run(mode, fetched, content_type=sniffed.content_type, settings=settings)
        _record_original(engine, started.asset_id, fetch, sniffed, stored)
        context = DeriveContext(
            settings=settings,
            engine=engine,
            mode=mode,
            asset_id=started.asset_id,
            kind=sniffed.kind,
            original=fetched.path,
            original_sha256=fetched.sha256,
            work_dir=work_dir,
        )
        try:
            run_recipe(context, recipe)
        except DatabaseUnavailable:
            raise  # nothing can be written; the run that takes the asset over decides
        except IngestError:
            _forget_formats(engine, started.asset_id)
            raise


def _forget_formats(engine: Engine, asset_id: uuid.UUID) -> None:
    """Drop what a failed ingest recorded: the asset keeps its row and its error, no formats.

    The stored bytes nothing refers to any more are the garbage collector's.
    """

    def write(session: Session) -> None:
        asset = session.get_one(Asset, asset_id)
        graph.remove_formats_named_like(session=session, asset=asset, prefix="")
        remove_track_fingerprints(session=session, asset_id=asset_id)

    transact(engine, write, describe="forgetting the failed ingest's formats")


def _record_original(
    engine: Engine,
    asset_id: uuid.UUID,
    fetch: FetchResult,
    sniffed: Sniffed,
    stored: StoredObject,
) -> None:
    """Record the ORIGINAL format and what the fetch learnt (a video page's title)."""
    fetched, page = fetch.file, fetch.page

    def write(session: Session) -> None:
        asset = session.get_one(Asset, asset_id)
        graph.record_format(
            session=session,
            asset=asset,
            name=ORIGINAL,
            technical=sniffed.as_metadata() | ({"page": dataclasses.asdict(page)} if page else {}),
            files=[graph.NewFile(name=fetched.filename or "original", stored=stored)],
        )
        graph.update_asset(
            session=session,
            asset=asset,
            kind=sniffed.kind,
            content_type=sniffed.content_type,
            # A filename the request gave wins over the one the source claims.
            original_filename=asset.original_filename or fetched.filename,
            title=asset.title or (page.title if page else None),
        )

    transact(engine, write, describe="recording the original")

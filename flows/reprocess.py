"""The ``reprocess-asset`` flow: run a (new) recipe on stored originals, fetching nothing."""

from __future__ import annotations

import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

from prefect import flow, get_run_logger
from sqlalchemy import Engine
from sqlmodel import col, select

from core.errors import CorruptMedia, IngestError
from core.settings import Settings
from flows.derivation import DeriveContext
from flows.hooks import job_follows_run
from flows.jobs import current_flow_run_id, finish_job
from flows.recipes import RecipeOptions, run_recipe
from flows.step_runs import step
from models import graph
from models.db import make_engine, new_session
from models.tables import ORIGINAL, Asset, AssetStatus, File, FileSet, Format, JobKind, JobStatus
from storage import open_store
from storage.digest import digest_file


@dataclass(frozen=True)
class ReprocessOutcome:
    """How reprocessing one asset ended."""

    asset_id: uuid.UUID
    job_id: uuid.UUID | None
    status: JobStatus
    error: str | None = None


@step("load-original")
def load_original_task(key: str, sha256: str, *, dest: Path, settings: Settings) -> Path:
    """Download the stored original and check it still has the bytes it was stored with."""
    open_store(settings).download(key, dest)
    if digest_file(dest).sha256 != sha256:
        raise CorruptMedia(f"stored original {key} no longer matches its sha256 {sha256}")
    return dest


@flow(
    name="reprocess-asset",
    on_crashed=[job_follows_run],
    on_failure=[job_follows_run],
    on_cancellation=[job_follows_run],
)
def reprocess_asset(
    asset_ids: list[uuid.UUID], recipe: RecipeOptions | None = None
) -> list[ReprocessOutcome]:
    """Re-run the derivatives of existing assets with a recipe, from their stored originals.

    Steps whose recipe and source are unchanged are skipped, so only what the
    new recipe changes is computed; one asset failing does not stop the rest.

    Args:
        asset_ids: The assets to reprocess.
        recipe: Steps per kind and their options; empty: the defaults.
    """
    settings = Settings()
    engine = make_engine(settings.database_url)
    try:
        return [
            _reprocess_one(engine, settings, asset_id, recipe or RecipeOptions())
            for asset_id in asset_ids
        ]
    finally:
        engine.dispose()


def _reprocess_one(
    engine: Engine, settings: Settings, asset_id: uuid.UUID, recipe: RecipeOptions
) -> ReprocessOutcome:
    logger = get_run_logger()
    original = _original_file(engine, asset_id)
    with new_session(engine) as session:
        asset = session.get(Asset, asset_id)
        if asset is None or original is None or asset.status == AssetStatus.DELETED:
            message = f"asset {asset_id} has no stored original to reprocess"
            logger.error(message)
            return ReprocessOutcome(asset_id, None, JobStatus.FAILED, message)
        job, _ = graph.create_job(
            session=session,
            kind=JobKind.REPROCESS,
            input={"asset_id": str(asset_id), "recipe": recipe.model_dump(mode="json")},
        )
        graph.update_job(
            session=session,
            job=job,
            status=JobStatus.RUNNING,
            asset_id=asset_id,
            flow_run_id=current_flow_run_id(),
        )
        graph.update_asset(session=session, asset=asset, status=AssetStatus.PROCESSING)
        session.commit()
    try:
        with tempfile.TemporaryDirectory(prefix="assetflow-", dir=settings.temp_dir) as work:
            work_dir = Path(work)
            path = load_original_task(
                original.key, original.sha256, dest=work_dir / "original", settings=settings
            )
            context = DeriveContext(
                settings=settings,
                engine=engine,
                asset_id=asset_id,
                kind=asset.kind,
                original=path,
                original_sha256=original.sha256,
                work_dir=work_dir,
            )
            run_recipe(context, recipe)
    except IngestError as exc:
        finish_job(engine, job.id, asset_id, error=str(exc))
        return ReprocessOutcome(asset_id, job.id, JobStatus.FAILED, str(exc))
    except BaseException as exc:
        finish_job(engine, job.id, asset_id, error=f"internal error: {type(exc).__name__}: {exc}")
        raise
    finish_job(engine, job.id, asset_id, error=None)
    return ReprocessOutcome(asset_id, job.id, JobStatus.COMPLETED)


def _original_file(engine: Engine, asset_id: uuid.UUID) -> File | None:
    with new_session(engine) as session:
        return session.exec(
            select(File)
            .join(FileSet, col(FileSet.id) == col(File.file_set_id))
            .join(Format, col(Format.id) == col(FileSet.format_id))
            .where(Format.asset_id == asset_id, Format.name == ORIGINAL)
        ).first()

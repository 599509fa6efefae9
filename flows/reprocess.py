"""The ``reprocess-asset`` flow: run a (new) recipe on stored originals, fetching nothing."""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path
from typing import Annotated, Any

from prefect import flow, get_run_logger
from prefect.states import State
from sqlalchemy import Engine
from sqlmodel import col, select

from core.errors import CorruptMedia, IngestError
from core.forms import titled
from core.kinds import AssetKind
from core.settings import Settings
from flows.hooks import job_follows_run
from flows.jobs import JobOutcome, StartedJob, run_job, start_reprocess
from flows.recipes import RecipeOptions, run_recipe
from flows.run_states import all_failed, end
from flows.runtime import DeriveContext, StepMode, current_flow_run_id, step
from models.db import engine_for, transact
from models.tables import ORIGINAL, Asset, File, FileSet, Format, JobStatus
from storage import open_store
from storage.digest import digest_file


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
    asset_ids: Annotated[list[uuid.UUID], titled("Asset ids")],
    recipe: Annotated[RecipeOptions, titled("Recipe")] = RecipeOptions(),
) -> State[Any]:
    """Re-run the derivatives of existing assets with a recipe, from their stored originals.

    Steps whose recipe and source are unchanged are skipped, so only what the
    new recipe changes is computed; one asset failing does not stop the rest, and
    the run ends Failed only when every asset failed.

    Args:
        asset_ids: The assets to reprocess (as assetflow ls lists them).
        recipe: The steps for each kind of asset and their options; a changed option
            recomputes only the steps it belongs to.
    """
    settings = Settings()
    engine = engine_for(settings)
    try:
        outcomes = [reprocess_one(engine, settings, asset_id, recipe) for asset_id in asset_ids]
    finally:
        engine.dispose()
    errors = [outcome.error if outcome.failed else None for outcome in outcomes]
    return end(outcomes, all_failed(errors, what="assets"))


def reprocess_one(
    engine: Engine, settings: Settings, asset_id: uuid.UUID, recipe: RecipeOptions
) -> JobOutcome:
    """Run the recipe on one asset's stored original, as a job of its own."""
    stored = _stored_original(engine, asset_id)
    started = None
    message = f"asset {asset_id} has no stored original to reprocess"
    if stored is not None:
        try:
            started = start_reprocess(
                engine,
                asset_id,
                recipe=recipe.model_dump(mode="json"),
                flow_run_id=current_flow_run_id(),
                lease_s=settings.lease_s,
            )
        except IngestError as exc:  # another run holds it, or the store is down
            message = str(exc)
    if stored is None or started is None:
        get_run_logger().error(message)
        return JobOutcome(None, asset_id, JobStatus.FAILED, message)
    original, kind = stored
    return run_job(
        engine, started, lambda: _rederive(started, original, kind, settings, engine, recipe)
    )


def _rederive(
    started: StartedJob,
    original: File,
    kind: AssetKind,
    settings: Settings,
    engine: Engine,
    recipe: RecipeOptions,
) -> None:
    mode = StepMode.TASKS
    assert original.sha256 is not None  # _stored_original reads verified files only
    with tempfile.TemporaryDirectory(prefix="assetflow-", dir=settings.temp_dir) as work:
        work_dir = Path(work)
        path = load_original_task.run(
            mode, original.key, original.sha256, dest=work_dir / "original", settings=settings
        )
        context = DeriveContext(
            settings=settings,
            engine=engine,
            mode=mode,
            asset_id=started.asset_id,
            kind=kind,
            original=path,
            original_sha256=original.sha256,
            work_dir=work_dir,
        )
        run_recipe(context, recipe)


def _stored_original(engine: Engine, asset_id: uuid.UUID) -> tuple[File, AssetKind] | None:
    """Return the asset's ORIGINAL file and the asset's kind, if it has one."""
    row = transact(
        engine,
        lambda session: session.exec(
            select(File, Asset.kind)
            .join(FileSet, col(FileSet.id) == col(File.file_set_id))
            .join(Format, col(Format.id) == col(FileSet.format_id))
            .join(Asset, col(Asset.id) == col(Format.asset_id))
            .where(
                Format.asset_id == asset_id,
                Format.name == ORIGINAL,
                # In the content store and verified: not a file in place built by hand.
                col(File.storage).is_(None),
                col(File.sha256).is_not(None),
            )
        ).first(),
        describe="reading the stored original",
    )
    return None if row is None else (row[0], AssetKind(row[1]))

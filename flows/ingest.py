"""The ``ingest-asset`` flow: one source into the asset graph."""

from __future__ import annotations

import uuid

from prefect import flow

from core.requests import AssetRequest
from core.settings import Settings
from flows.hooks import job_follows_run
from flows.jobs import JobOutcome
from flows.pipeline import ingest_one
from flows.recipes import RecipeOptions
from flows.runtime import StepMode
from models.db import make_engine


@flow(
    name="ingest-asset",
    on_crashed=[job_follows_run],
    on_failure=[job_follows_run],
    on_cancellation=[job_follows_run],
)
def ingest_asset(
    request: AssetRequest,
    job_id: uuid.UUID | None = None,
    recipe: RecipeOptions | None = None,
) -> JobOutcome:
    """Fetch, store, probe and derive one source, and record it in the asset graph.

    Args:
        request: The source and what to call the asset.
        job_id: A job created by submit_ingest() for this run to take up; empty: a new job.
        recipe: Steps per kind and their options; empty: the defaults.
    """
    settings = Settings()
    engine = make_engine(settings.database_url)
    try:
        return ingest_one(
            request,
            job_id=job_id,
            settings=settings,
            engine=engine,
            mode=StepMode.TASKS,
            recipe=recipe or RecipeOptions(),
        )
    finally:
        engine.dispose()

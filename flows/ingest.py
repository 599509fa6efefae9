"""The ``ingest-asset`` flow: one source into the asset graph.

A submission (``assetflow submit``, ``submit_ingest``, the HTTP API) writes the
job first, source and all, and hands Prefect only the job's id and its
redacted request; the run reads the source from the job. A run started by
hand in the Prefect UI gives the request itself (Prefect records it as
typed). The run ends Failed, with the job's sentence, when the ingest failed.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from prefect import flow
from prefect.states import State
from pydantic import Field

from core.forms import titled
from core.requests import AssetRequest
from core.settings import Settings
from flows.derive_video import ensure_transcode_limit
from flows.hooks import job_follows_run
from flows.jobs import JobOutcome, create_ingest_job
from flows.pipeline import ingest_one
from flows.recipes import RecipeOptions
from flows.run_states import end, result_of
from flows.runtime import StepMode
from models.db import engine_for

UUID_PATTERN = r"^$|^[0-9a-fA-F]{8}-?([0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}$"


@flow(
    name="ingest-asset",
    on_crashed=[job_follows_run],
    on_failure=[job_follows_run],
    on_cancellation=[job_follows_run],
)
def ingest_asset(
    request: Annotated[AssetRequest, titled("Asset to ingest")],
    recipe: Annotated[RecipeOptions, titled("Recipe")] = RecipeOptions(),
    job_id: Annotated[str, titled("Job id"), Field(pattern=UUID_PATTERN)] = "",
) -> State[Any]:
    """Fetch, store, probe and derive one source, and record it in the asset graph.

    Args:
        request: The source and what to call the asset.
        recipe: The steps for each kind of asset and their options; the defaults suit most.
        job_id: Leave empty. Set by assetflow submit and the HTTP API: the job this run
            takes up, whose stored request it ingests (the asset above is its redacted copy).
    """
    settings = Settings()
    engine = engine_for(settings)
    try:
        job = uuid.UUID(job_id) if job_id else create_ingest_job(engine, request).id
        outcome = ingest_one(
            job, settings=settings, engine=engine, mode=StepMode.TASKS, recipe=recipe
        )
    finally:
        engine.dispose()
    return end(outcome, outcome.error if outcome.failed else None)


def ingest(request: AssetRequest, *, recipe: RecipeOptions | None = None) -> JobOutcome:
    """Ingest one source in this process (``assetflow ingest``) and say how it ended.

    Like a submission: the job is written first and the run gets its id and
    the redacted request, so a signed source never reaches Prefect.
    """
    settings = Settings()
    engine = engine_for(settings)
    try:
        job = create_ingest_job(engine, request)
    finally:
        engine.dispose()
    ensure_transcode_limit(settings)
    state = ingest_asset(
        request.redacted(), recipe=recipe or RecipeOptions(), job_id=str(job.id), return_state=True
    )
    outcome: JobOutcome = result_of(state)
    return outcome

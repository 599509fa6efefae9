"""POST /tasks (asynchronous ingest) and GET /tasks/{id}."""

from __future__ import annotations

import functools
import uuid

import anyio
from fastapi import APIRouter, Depends, Response

from api.auth import require
from api.context import Context, DbSession
from api.errors import ApiError, ErrorBody
from api.ingest import read_task, start_ingest
from api.keys import Scope
from api.routes.files import IdempotencyKey, asset_request
from api.schemas import TaskCreate, TaskObject
from api.views import load_task, task_object

router = APIRouter(tags=["tasks"], dependencies=[Depends(require(Scope.ASSETS))])


@router.post(
    "/tasks",
    status_code=201,
    response_model=TaskObject,
    responses={409: {"model": ErrorBody}, 503: {"model": ErrorBody}},
)
async def create_task(
    body: TaskCreate, context: Context, response: Response, idempotency_key: IdempotencyKey = None
) -> TaskObject:
    """Start an ingest and answer at once with its task."""
    job = await anyio.to_thread.run_sync(
        functools.partial(
            start_ingest, context, asset_request(body), idempotency_key=idempotency_key
        )
    )
    # The job as written: a repeated idempotency key's job may have moved on since.
    task = (
        task_object(job)
        if job.status == "pending"
        else await anyio.to_thread.run_sync(read_task, context.engine, job.id)
    )
    response.headers["Location"] = f"/tasks/{task.id}"
    return task


@router.get("/tasks/{task_id}", response_model=TaskObject, responses={404: {"model": ErrorBody}})
def get_task(task_id: uuid.UUID, context: Context, session: DbSession) -> TaskObject:
    """Show a task: status, progress, error, and its file once completed."""
    task = load_task(session, task_id)
    if task is None:
        raise ApiError(404, "task not found")
    if task.status in ("pending", "running"):
        # A run that died without ending its job is failed here (Prefect mode).
        context.runner.refresh(task_id)
        session.expire_all()
        task = load_task(session, task_id)
        assert task is not None
    return task

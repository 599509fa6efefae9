"""POST /tasks (asynchronous ingest) and GET /tasks/{id}."""

from __future__ import annotations

import functools
import uuid
from typing import Annotated

import anyio
from fastapi import APIRouter, Depends, Path, Request, Response
from sqlmodel import select

from api import ids
from api.auth import require
from api.context import Context, DbSession
from api.errors import ApiError, ErrorBody
from api.ingest import read_task, start_ingest
from api.keys import Scope
from api.routes.files import IdempotencyKey, asset_request
from api.routes.webhooks import webhook_created
from api.schemas import TaskCreate, TaskEnvelope
from api.views import load_task, task_envelope, task_object
from api.webhooks.receivers import refuse_a_blocked_receiver
from models.db import new_session
from models.tables import WebhookSubscription

router = APIRouter(tags=["tasks"], dependencies=[Depends(require(Scope.ASSETS))])


@router.post(
    "/tasks",
    status_code=201,
    response_model=TaskEnvelope,
    responses={409: {"model": ErrorBody}, 503: {"model": ErrorBody}},
)
async def create_task(
    body: TaskCreate,
    context: Context,
    request: Request,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> TaskEnvelope:
    """Start an ingest and answer at once with its task (and its webhook's secret, if any)."""
    if body.webhook_url is not None:
        refuse_a_blocked_receiver(body.webhook_url, context.settings.allowed_networks)
    job = await anyio.to_thread.run_sync(
        functools.partial(
            start_ingest,
            context,
            asset_request(body),
            idempotency_key=idempotency_key,
            webhook_url=body.webhook_url,
        )
    )
    # The job as written: a repeated idempotency key's job may have moved on since.
    task = (
        task_object(job)
        if job.status == "pending"
        else await anyio.to_thread.run_sync(read_task, context.engine, job.id)
    )
    subscription = await anyio.to_thread.run_sync(_task_subscription, context, job.id)
    if subscription is not None:
        task = task.model_copy(update={"webhook": webhook_created(subscription)})
    envelope = task_envelope(task, str(request.base_url))
    response.headers["Location"] = f"/tasks/{envelope.data.id}"
    return envelope


def _task_subscription(context: Context, job_id: uuid.UUID) -> WebhookSubscription | None:
    with new_session(context.engine) as session:
        return session.exec(
            select(WebhookSubscription).where(WebhookSubscription.job_id == job_id)
        ).first()


@router.get("/tasks/{task_id}", response_model=TaskEnvelope, responses={404: {"model": ErrorBody}})
def get_task(
    task_id: Annotated[str, Path(description="task_<hex>, or the job's UUID")],
    context: Context,
    session: DbSession,
    request: Request,
) -> TaskEnvelope:
    """Show a task: status, progress, error, and its file once completed."""
    job_id = ids.parse_id(task_id, ids.TASK)
    task = load_task(session, job_id) if job_id else None
    if task is None:
        raise ApiError(404, "task not found")
    if task.status in ("pending", "running"):
        # A run that died without ending its job is failed here (Prefect mode).
        context.runner.refresh(task.id)
        session.expire_all()
        task = load_task(session, task.id)
        assert task is not None
    return task_envelope(task, str(request.base_url))

"""POST /files (synchronous ingest) and GET /files/{id}."""

from __future__ import annotations

import functools
import uuid
from typing import Annotated

import anyio
from fastapi import APIRouter, Depends, Header, Path, Request, Response
from fastapi.responses import JSONResponse

from api import ids
from api.auth import require
from api.context import Context, DbSession
from api.errors import ApiError, ErrorBody
from api.ingest import start_ingest, sync_wait_s, wait_for_task
from api.keys import Scope
from api.schemas import FileCreate, FileEnvelope, TaskEnvelope
from api.views import file_envelope, load_file, task_envelope
from core.requests import AssetRequest
from models.tables import JobStatus

router = APIRouter(tags=["files"], dependencies=[Depends(require(Scope.ASSETS))])

PreferWait = Annotated[
    str | None,
    Header(
        alias="Prefer",
        description="wait=N: answer 202 with the task after at most N seconds (RFC 7240)",
    ),
]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=200,
        description="The same key returns the same task and never ingests twice",
    ),
]


def _file_id(
    file_id: Annotated[str, Path(description="file_<hex>, or the asset's UUID")],
) -> uuid.UUID:
    found = ids.parse_id(file_id, ids.FILE)
    if found is None:
        raise ApiError(404, "file not found")
    return found


# A file's id as the path gives it, read as its asset's UUID (404 when it is not one).
FileId = Annotated[uuid.UUID, Depends(_file_id)]


def asset_request(body: FileCreate) -> AssetRequest:
    """Build the request every entry point ingests from the API's body."""
    return AssetRequest.model_validate(
        {
            "source": body.url,
            "project": body.project,
            "identifier": body.identifier,
            "title": body.title,
            "description": body.description,
            "category": body.category,
            "tags": body.tags,
            "external_id": body.external_id,
            "folder": body.folder,
            "filename": body.filename,
        }
    )


@router.post(
    "/files",
    status_code=201,
    response_model=FileEnvelope,
    responses={
        202: {"model": TaskEnvelope, "description": "Still ingesting after the wait: the task"},
        409: {"model": ErrorBody, "description": "The identifier is used in the project"},
        422: {"model": ErrorBody, "description": "A bad field, or a source that failed"},
    },
)
async def create_file(
    body: FileCreate,
    context: Context,
    request: Request,
    response: Response,
    idempotency_key: IdempotencyKey = None,
    prefer: PreferWait = None,
) -> FileEnvelope | JSONResponse:
    """Ingest a URL and answer with the file once stored; 202 with the task if it takes longer."""
    wait_s = sync_wait_s(context.settings.api_sync_timeout_s, prefer)
    job = await anyio.to_thread.run_sync(
        functools.partial(
            start_ingest, context, asset_request(body), idempotency_key=idempotency_key
        )
    )
    task = await wait_for_task(context, job.id, wait_s)
    if task.status == JobStatus.FAILED:
        raise ApiError(
            422, task.error or "the ingest failed", field="url", task_id=ids.task_id(task.id)
        )
    if task.status != JobStatus.COMPLETED or task.file is None:
        waiting = task_envelope(task, str(request.base_url))
        return JSONResponse(
            status_code=202,
            content=waiting.model_dump(mode="json"),
            headers={"Location": f"/tasks/{waiting.data.id}"},
        )
    stored = file_envelope(task.file, str(request.base_url))
    response.headers["Location"] = f"/files/{stored.data.id}"
    return stored


@router.get("/files/{file_id}", response_model=FileEnvelope, responses={404: {"model": ErrorBody}})
def get_file(file_id: FileId, session: DbSession, request: Request) -> FileEnvelope:
    """Show an ingested file."""
    found = load_file(session, file_id)
    if found is None or found.status == "deleted":
        raise ApiError(404, "file not found")
    return file_envelope(found, str(request.base_url))

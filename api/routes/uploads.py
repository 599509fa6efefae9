"""Uploads over HTTP: POST /assets (a form with the file, or a chunked session's start),
POST /assets/{id}/multipart (its chunks and finish), GET and DELETE of the session.

The chunked phases follow the upload API contract: ``start`` answers the
session and its chunk size, each ``transfer`` one chunk at ``start_offset``
and the next offset, ``finish`` the ingest's task. Both ways go through the
session layer (api/sessions.py), which stages the bytes in the object store.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, TypeVar

import anyio
from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ValidationError
from starlette.requests import ClientDisconnect

from api import sessions
from api.auth import require
from api.context import Context
from api.errors import ApiError, ErrorBody, validation_sentence
from api.ingest import read_task
from api.keys import Scope
from api.schemas import (
    TaskObject,
    UploadFields,
    UploadFinish,
    UploadSessionObject,
    UploadStart,
)
from api.uploads import FormReader
from core.requests import AssetRequest
from models.tables import ApiKey, IngestJob, UploadProtocol, UploadSession

router = APIRouter(tags=["uploads"])

BodyT = TypeVar("BodyT", bound=BaseModel)

Caller = Annotated[ApiKey, Depends(require(Scope.ASSETS))]

# The form field that carries the file of a direct upload, and a chunk of a transfer.
SOURCE_FIELD = "source"
CHUNK_FIELD = "file_chunk"

# Answered to no one: the client went away mid-body (what it sent is kept or dropped
# by the session layer); an answer rather than an error keeps the log free of traces.
GONE = "the client went away before the body ended"

_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "No such upload session (for this key)"},
    409: {
        "model": ErrorBody,
        "description": "A chunk not at the session's offset (``expected_offset`` says where), "
        "a finish with bytes missing, or an identifier the project holds",
    },
    410: {"model": ErrorBody, "description": "The session expired"},
    413: {"model": ErrorBody, "description": "Larger than the announced size or the limit"},
    429: {"model": ErrorBody, "description": "The key's open uploads are at their quota"},
    503: {"model": ErrorBody, "description": "The ingest could not be queued"},
}


def api_error(exc: sessions.UploadError) -> ApiError:
    """Answer a session's refusal in the API's error shape, with the offsets it knows."""
    extra: dict[str, Any] = {}
    if isinstance(exc, sessions.OffsetMismatch):
        extra["expected_offset"] = exc.expected_offset
    if isinstance(exc, sessions.UploadIncomplete):
        extra |= {"expected_offset": exc.offset, "file_size": exc.file_size}
    return ApiError(exc.status, exc.message, **extra)


def _request(fields: dict[str, Any]) -> AssetRequest:
    """Build the request an upload ingests from its metadata (its source comes later)."""
    metadata = _validated(UploadFields, fields)
    return AssetRequest.model_validate(
        metadata.model_dump(exclude_none=True) | {"source": "upload://"}
    )


def _form_fields(fields: dict[str, str]) -> dict[str, Any]:
    """The metadata fields of a form; ``tags`` separated by commas."""
    taken: dict[str, Any] = {name: value for name, value in fields.items() if name != SOURCE_FIELD}
    if "tags" in taken:
        taken["tags"] = [tag for tag in taken["tags"].split(",") if tag.strip()]
    return taken


def session_object(row: UploadSession, chunk_size: int) -> UploadSessionObject:
    """Show a session with the chunk the client sends next."""
    return UploadSessionObject(
        id=row.id,
        protocol=row.protocol,
        status=row.status,
        filename=row.filename,
        content_type=row.content_type,
        file_size=row.file_size,
        offset=row.offset,
        start_offset=row.offset,
        end_offset=min(row.file_size, row.offset + chunk_size),
        chunk_size=chunk_size,
        expires=row.expires_at,
        task_id=row.job_id,
    )


_FORM_SCHEMA = {
    "type": "object",
    "required": [SOURCE_FIELD],
    "properties": {
        SOURCE_FIELD: {"type": "string", "format": "binary", "description": "The file"},
        **{
            name: {"type": "string"}
            for name in (
                "project",
                "identifier",
                "title",
                "description",
                "category",
                "external_id",
                "folder",
            )
        },
        "tags": {"type": "string", "description": "Tags, separated by commas"},
    },
}


@router.post(
    "/assets",
    status_code=201,
    responses={
        201: {
            "description": "The form's ingest task, or the chunked session opened",
            "content": {
                "application/json": {
                    "schema": {
                        "anyOf": [
                            {"$ref": "#/components/schemas/TaskObject"},
                            {"$ref": "#/components/schemas/UploadSessionObject"},
                        ]
                    }
                }
            },
        },
        **_ERRORS,
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {"schema": _FORM_SCHEMA},
                "application/json": {"schema": UploadStart.model_json_schema()},
            },
        }
    },
)
async def create_asset(
    request: Request, context: Context, caller: Caller, response: Response
) -> Any:
    """Upload a file as a form (``source`` and the metadata fields), or start a chunked upload.

    A form answers the ingest's task at once; a JSON body with
    ``upload_phase: "start"`` opens a session and answers its id and chunk size.
    """
    try:
        if request.headers.get("content-type", "").startswith("application/json"):
            start = _validated(UploadStart, await _json_body(request))
            return await _start(context, caller, start, response)
        return await _form_upload(request, context, caller, response)
    except ClientDisconnect as exc:
        raise ApiError(400, GONE) from exc


async def _json_body(request: Request) -> bytes:
    body = await request.body()
    if len(body) > 64 * 1024:
        raise ApiError(413, "the JSON body is larger than 64 KiB")
    return body


async def _start(
    context: Context, caller: ApiKey, start: UploadStart, response: Response
) -> UploadSessionObject:
    metadata = start.model_dump(
        exclude_none=True, exclude={"upload_phase", "file_size", "filename", "content_type"}
    )
    try:
        row = await sessions.open_session(
            context,
            owner=caller.id,
            request=_request(metadata),
            file_size=start.file_size,
            filename=start.filename,
            content_type=start.content_type,
            protocol=UploadProtocol.CHUNKED,
        )
    except sessions.UploadError as exc:
        raise api_error(exc) from exc
    response.headers["Location"] = f"/assets/{row.id}/multipart"
    return session_object(row, context.settings.upload_chunk_bytes)


async def _form_upload(
    request: Request, context: Context, caller: ApiKey, response: Response
) -> TaskObject:
    limit = context.settings.upload_max_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise ApiError(413, f"the upload is larger than the limit of {limit} bytes")
    reader = FormReader(request)
    part = await reader.next_file()
    if part is None or part.name != SOURCE_FIELD:
        raise ApiError(422, f"Missing parameter {SOURCE_FIELD}", field=SOURCE_FIELD)
    filename = part.filename or "upload"
    try:
        row = await sessions.open_session(
            context,
            owner=caller.id,
            request=_request(_form_fields(reader.fields)),
            # Only bounded until the body ends: the size is settled then.
            file_size=int(declared) if declared.isdigit() else limit,
            filename=filename,
            content_type=part.content_type,
            protocol=UploadProtocol.FORM,
        )
    except sessions.UploadError as exc:
        raise api_error(exc) from exc
    try:
        await sessions.append(
            context,
            row.id,
            owner=caller.id,
            offset=0,
            body=reader.file_bytes(),
            keep_partial=False,
        )
        await reader.rest()
        await sessions.settle(
            context, row.id, owner=caller.id, request=_request(_form_fields(reader.fields))
        )
        job = await sessions.finish(context, row.id, owner=caller.id)
    except sessions.PieceTooLarge as exc:
        await sessions.abort(context, row.id, owner=caller.id)
        raise ApiError(413, f"the upload is larger than the limit of {limit} bytes") from exc
    except BaseException:
        with anyio.CancelScope(shield=True):
            await sessions.abort(context, row.id, owner=caller.id)
        raise
    return await _task(context, job, response)


async def _task(context: Context, job: IngestJob, response: Response) -> TaskObject:
    response.headers["Location"] = f"/tasks/{job.id}"
    return await anyio.to_thread.run_sync(read_task, context.engine, job.id)


@router.post(
    "/assets/{session_id}/multipart",
    status_code=200,
    responses={
        200: {
            "description": "After a transfer, the session at its new offset; after the finish, "
            "the ingest's task",
            "content": {
                "application/json": {
                    "schema": {
                        "anyOf": [
                            {"$ref": "#/components/schemas/UploadSessionObject"},
                            {"$ref": "#/components/schemas/TaskObject"},
                        ]
                    }
                }
            },
        },
        **_ERRORS,
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["upload_phase"],
                        "properties": {
                            "upload_phase": {"type": "string", "enum": ["transfer", "finish"]},
                            "start_offset": {
                                "type": "integer",
                                "minimum": 0,
                                "description": "transfer: where this chunk starts; before "
                                "file_chunk in the form",
                            },
                            CHUNK_FIELD: {"type": "string", "format": "binary"},
                            "sha256": {"type": "string", "description": "finish: checked"},
                            "md5": {"type": "string", "description": "finish: checked"},
                        },
                    }
                },
                "application/json": {"schema": UploadFinish.model_json_schema()},
            },
        }
    },
)
async def upload_phase(
    session_id: uuid.UUID, request: Request, context: Context, caller: Caller, response: Response
) -> Any:
    """Send one chunk (``upload_phase: "transfer"``) or close the upload (``"finish"``)."""
    try:
        if request.headers.get("content-type", "").startswith("application/json"):
            finish = _validated(UploadFinish, await _json_body(request))
            return await _finish(context, caller, session_id, finish, response)
        return await _form_phase(session_id, request, context, caller, response)
    except sessions.UploadError as exc:
        raise api_error(exc) from exc
    except ClientDisconnect as exc:
        raise ApiError(400, GONE) from exc


async def _form_phase(
    session_id: uuid.UUID, request: Request, context: Context, caller: ApiKey, response: Response
) -> Any:
    reader = FormReader(request)
    part = await reader.next_file()
    phase = reader.fields.get("upload_phase")
    if phase == "finish" and part is None:
        finish = _validated(UploadFinish, reader.fields)
        return await _finish(context, caller, session_id, finish, response)
    if phase != "transfer":
        raise ApiError(
            422,
            "upload_phase must be 'transfer' (with a file_chunk) or 'finish'",
            field="upload_phase",
        )
    offset_text = reader.fields.get("start_offset", "")
    if not offset_text.isdigit():
        raise ApiError(
            422,
            "start_offset must be a whole number, sent before file_chunk in the form",
            field="start_offset",
        )
    if part is None or part.name != CHUNK_FIELD:
        raise ApiError(422, f"Missing parameter {CHUNK_FIELD}", field=CHUNK_FIELD)
    await sessions.append(
        context,
        session_id,
        owner=caller.id,
        offset=int(offset_text),
        body=reader.file_bytes(),
        keep_partial=False,
    )
    await reader.rest()
    row = await sessions.get(context, session_id, owner=caller.id)
    return session_object(row, context.settings.upload_chunk_bytes)


def _validated(model: type[BodyT], data: bytes | dict[str, str]) -> BodyT:
    """Parse a JSON body or a form's fields as ``model``; 422 naming the field at fault."""
    try:
        if isinstance(data, bytes):
            return model.model_validate_json(data)
        return model.model_validate(data)
    except ValidationError as exc:
        sentence, field = validation_sentence(dict(exc.errors()[0]))
        raise ApiError(422, sentence, field=field) from exc


async def _finish(
    context: Context,
    caller: ApiKey,
    session_id: uuid.UUID,
    finish: UploadFinish,
    response: Response,
) -> TaskObject:
    job = await sessions.finish(
        context, session_id, owner=caller.id, sha256=finish.sha256, md5=finish.md5
    )
    return await _task(context, job, response)


@router.get(
    "/assets/{session_id}/multipart",
    response_model=UploadSessionObject,
    responses={404: _ERRORS[404], 410: _ERRORS[410]},
)
async def get_upload(
    session_id: uuid.UUID, context: Context, caller: Caller
) -> UploadSessionObject:
    """Show an upload session: its offset is where to resume."""
    try:
        row = await sessions.get(context, session_id, owner=caller.id)
    except sessions.UploadError as exc:
        raise api_error(exc) from exc
    return session_object(row, context.settings.upload_chunk_bytes)


@router.delete(
    "/assets/{session_id}/multipart",
    status_code=204,
    responses={404: _ERRORS[404], 409: _ERRORS[409]},
)
async def abort_upload(session_id: uuid.UUID, context: Context, caller: Caller) -> None:
    """Abort an open upload: its bytes are removed."""
    try:
        await sessions.abort(context, session_id, owner=caller.id)
    except sessions.UploadError as exc:
        raise api_error(exc) from exc

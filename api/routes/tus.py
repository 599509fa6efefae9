"""tus 1.0 at /uploads/: core, creation(-with-upload), termination, checksum (sha1), expiration.

    OPTIONS /uploads/         what the server speaks (no key: a browser's preflight has none)
    POST    /uploads/         open an upload (Upload-Length, Upload-Metadata), a first piece or not
    HEAD    /uploads/{id}     its offset, length, metadata, expiry; the task once finished
    PATCH   /uploads/{id}     a piece at Upload-Offset (Upload-Checksum: sha1 ...)
    DELETE  /uploads/{id}     abort it

A thin translation of the protocol into the upload session layer
(api/sessions.py), which streams each piece into the store's staged write
and keeps the session in the database. When the offset reaches the length the
session is finished and its ingest starts; the answer names the task in
``Assetflow-Task-Id`` (HEAD repeats it), to read at ``GET /tasks/{id}``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import ValidationError
from starlette.requests import ClientDisconnect

from api import sessions
from api.auth import require
from api.context import AppContext, Context
from api.errors import ApiError, ErrorBody, validation_sentence
from api.keys import Scope
from api.tus import (
    OFFSET_OCTET_STREAM,
    TASK_HEADER,
    TUS_CHECKSUM_ALGORITHMS,
    TUS_EXTENSIONS,
    TUS_VERSION,
    asset_fields,
    check_resumable,
    file_type,
    http_date,
    parse_checksum,
    parse_length,
    parse_metadata,
)
from core.requests import AssetRequest
from models.tables import ApiKey, UploadProtocol, UploadSession, UploadStatus

router = APIRouter(prefix="/uploads", tags=["uploads (tus)"])

Caller = Annotated[ApiKey, Depends(require(Scope.ASSETS))]

# tus answers a piece whose checksum does not match with this status (the checksum extension).
CHECKSUM_MISMATCH = 460

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "A tus header is missing or malformed"},
    404: {"model": ErrorBody, "description": "No such upload, or another key's"},
    410: {"model": ErrorBody, "description": "The upload expired"},
    412: {"model": ErrorBody, "description": "The client does not speak tus 1.0.0"},
}


@contextmanager
def _tus_statuses() -> Iterator[None]:
    """Answer the session layer's refusals with tus's status codes."""
    try:
        yield
    except sessions.ChecksumMismatch as exc:
        raise ApiError(CHECKSUM_MISMATCH, exc.message, field="Upload-Checksum") from exc
    except sessions.OffsetMismatch as exc:
        raise ApiError(
            exc.status, exc.message, field="Upload-Offset", expected_offset=exc.expected_offset
        ) from exc
    except sessions.UploadError as exc:
        raise ApiError(exc.status, exc.message) from exc


def _upload_id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise ApiError(404, f"no upload {value!r}") from None


def _progress_headers(upload: UploadSession) -> dict[str, str]:
    """What HEAD, PATCH and POST say about an upload: offset, expiry, and its task once finished."""
    headers = {
        "Upload-Offset": str(upload.offset),
        "Upload-Expires": http_date(upload.expires_at),
        "Cache-Control": "no-store",
    }
    if upload.status == UploadStatus.FINISHED and upload.job_id is not None:
        headers[TASK_HEADER] = str(upload.job_id)
    return headers


def _has_body(request: Request) -> bool:
    length = request.headers.get("content-length")
    return (length is not None and length.strip() != "0") or (
        "transfer-encoding" in request.headers
    )


async def _write_piece(
    request: Request, context: AppContext, caller: ApiKey, upload_id: uuid.UUID, offset: int
) -> UploadSession:
    """Append the request's body at ``offset``; finish the upload when it is whole."""
    if request.headers.get("content-type", "").split(";")[0].strip() != OFFSET_OCTET_STREAM:
        raise ApiError(
            415, f"send the piece as Content-Type: {OFFSET_OCTET_STREAM}", field="Content-Type"
        )
    sha1 = parse_checksum(request.headers.get("upload-checksum"))
    with _tus_statuses():
        await sessions.append(
            context, upload_id, owner=caller.id, offset=offset, body=request.stream(), sha1=sha1
        )
        return await _finish_when_whole(context, caller, upload_id)


async def _finish_when_whole(
    context: AppContext, caller: ApiKey, upload_id: uuid.UUID
) -> UploadSession:
    """Return the upload as it stands, finished (its ingest started) if every byte is in."""
    upload = await sessions.get(context, upload_id, owner=caller.id)
    if upload.status == UploadStatus.OPEN and upload.offset == upload.file_size:
        await sessions.finish(context, upload_id, owner=caller.id)
        upload = await sessions.get(context, upload_id, owner=caller.id)
    return upload


def _options_headers(context: AppContext) -> dict[str, str]:
    return {
        "Tus-Version": TUS_VERSION,
        "Tus-Extension": TUS_EXTENSIONS,
        "Tus-Max-Size": str(context.settings.upload_max_bytes),
        "Tus-Checksum-Algorithm": TUS_CHECKSUM_ALGORITHMS,
    }


@router.options("/", status_code=204, responses={204: {"description": "What the server speaks"}})
# The same answer on an upload's URL, where some clients ask; the schema shows it once.
@router.options("/{upload_id}", status_code=204, include_in_schema=False)
async def tus_options(context: Context) -> Response:
    """Say which tus version and extensions the server speaks, and the largest upload."""
    return Response(status_code=204, headers=_options_headers(context))


@router.post(
    "/",
    status_code=201,
    responses={
        201: {"description": "Created: Location names the upload; Upload-Offset if a piece came"},
        409: {"model": ErrorBody, "description": "The identifier is used in the project"},
        413: {"model": ErrorBody, "description": "Upload-Length past Tus-Max-Size"},
        429: {"model": ErrorBody, "description": "The key's open uploads or bytes are at quota"},
        **_ERRORS,
    },
)
async def create_upload(request: Request, context: Context, caller: Caller) -> Response:
    """Open an upload of Upload-Length bytes, described by Upload-Metadata (base64 pairs).

    Metadata keys: ``filename`` (or ``name``), ``filetype`` (or ``type``),
    ``project``, ``identifier``, ``title``, ``description``, ``category``,
    ``tags`` (comma-separated), ``external_id``, ``folder``; others are
    ignored. A body (Content-Type application/offset+octet-stream) is the
    first piece (creation-with-upload).
    """
    check_resumable(request.headers)
    if "upload-defer-length" in request.headers:
        raise ApiError(
            400, "Upload-Defer-Length is not supported: send Upload-Length", field="Upload-Length"
        )
    length = parse_length(request.headers.get("upload-length"), "Upload-Length")
    if length is None:
        raise ApiError(400, "Missing parameter Upload-Length", field="Upload-Length")
    raw_metadata = request.headers.get("upload-metadata")
    metadata = parse_metadata(raw_metadata)
    fields = asset_fields(metadata)
    try:
        # The session layer names the source (upload://<session id>).
        asset_request = AssetRequest.model_validate({"source": "upload://", **fields})
    except ValidationError as exc:
        sentence, field = validation_sentence(dict(exc.errors()[0]))
        raise ApiError(400, f"Upload-Metadata: {sentence}", field=field) from exc
    with _tus_statuses():
        upload = await sessions.open_session(
            context,
            owner=caller.id,
            request=asset_request,
            file_size=length,
            filename=fields["filename"],
            content_type=file_type(metadata),
            protocol=UploadProtocol.TUS,
            tus_metadata=raw_metadata,
        )
    if _has_body(request):
        # A client gone mid-piece: the upload exists, and it resumes from HEAD's offset.
        with suppress(ClientDisconnect):
            upload = await _write_piece(request, context, caller, upload.id, 0)
    location = f"{request.scope.get('root_path', '')}/uploads/{upload.id}"
    return Response(status_code=201, headers={"Location": location, **_progress_headers(upload)})


@router.head(
    "/{upload_id}",
    responses={
        200: {"description": "Upload-Offset, Upload-Length, and the task once finished"},
        **_ERRORS,
    },
)
async def upload_progress(
    upload_id: str, request: Request, context: Context, caller: Caller
) -> Response:
    """Say how far the upload is: the offset to resume from; the task once it is whole."""
    check_resumable(request.headers)
    with _tus_statuses():
        upload = await sessions.get(context, _upload_id(upload_id), owner=caller.id)
    headers = {"Upload-Length": str(upload.file_size), **_progress_headers(upload)}
    if upload.tus_metadata:
        headers["Upload-Metadata"] = upload.tus_metadata
    return Response(status_code=200, headers=headers)


@router.patch(
    "/{upload_id}",
    status_code=204,
    responses={
        204: {"description": "Taken: Upload-Offset is the new offset; the task once whole"},
        409: {"model": ErrorBody, "description": "Upload-Offset is not the upload's offset"},
        413: {"model": ErrorBody, "description": "The piece runs past Upload-Length"},
        415: {"model": ErrorBody, "description": "Not application/offset+octet-stream"},
        460: {"model": ErrorBody, "description": "Upload-Checksum does not match: piece dropped"},
        **_ERRORS,
    },
)
async def upload_piece(
    upload_id: str, request: Request, context: Context, caller: Caller
) -> Response:
    """Append the body at Upload-Offset; when the upload is whole, its ingest starts."""
    check_resumable(request.headers)
    offset = parse_length(request.headers.get("upload-offset"), "Upload-Offset")
    if offset is None:
        raise ApiError(400, "Missing parameter Upload-Offset", field="Upload-Offset")
    try:
        upload = await _write_piece(request, context, caller, _upload_id(upload_id), offset)
    except ClientDisconnect:
        # Nobody to answer: the whole parts are kept and HEAD says where to resume.
        return Response(status_code=400)
    return Response(status_code=204, headers=_progress_headers(upload))


@router.delete(
    "/{upload_id}",
    status_code=204,
    responses={
        204: {"description": "Aborted: its bytes are gone"},
        409: {"model": ErrorBody, "description": "Finished: its ingest has started"},
        **_ERRORS,
    },
)
async def terminate_upload(
    upload_id: str, request: Request, context: Context, caller: Caller
) -> Response:
    """Abort an unfinished upload and drop what it stored (termination)."""
    check_resumable(request.headers)
    with _tus_statuses():
        await sessions.abort(context, _upload_id(upload_id), owner=caller.id)
    return Response(status_code=204)

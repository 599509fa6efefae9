"""GET /files/{id}/content: a file's bytes, seekable, cached by content.

On the filesystem the bytes are streamed with ``Range`` (a browser seeks in a
proxy) and ``If-Range``; on S3 the answer redirects to a short-lived
presigned URL, which S3 serves with ranges itself. The ETag is the content's
SHA-256, so ``If-None-Match`` answers 304 without reading a byte.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Response
from fastapi.responses import FileResponse, RedirectResponse
from sqlmodel import col, select

from api.auth import require
from api.context import Context, DbSession
from api.errors import ApiError, ErrorBody
from api.keys import Scope
from models.tables import ORIGINAL, Asset, AssetStatus, File, FileSet, Format
from storage import open_store

router = APIRouter(tags=["files"], dependencies=[Depends(require(Scope.ASSETS))])

# How long a presigned URL the redirect points at stays valid.
PRESIGNED_S = 900


@router.get(
    "/files/{file_id}/content",
    response_class=Response,
    responses={
        200: {"content": {"application/octet-stream": {}}, "description": "The bytes"},
        206: {"description": "The range asked for"},
        304: {"description": "Unchanged (If-None-Match)"},
        307: {"description": "On S3: a presigned URL to read the bytes from"},
        404: {"model": ErrorBody},
    },
)
def file_content(
    file_id: uuid.UUID,
    context: Context,
    session: DbSession,
    format: Annotated[
        str, Query(description="ORIGINAL, PROXY, POSTER, SIZE_320 ...", max_length=64)
    ] = ORIGINAL,
    name: Annotated[
        str | None, Query(description="A file of the format by name; default its first")
    ] = None,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    """Send the bytes of one of the file's formats (default its original)."""
    asset = session.get(Asset, file_id)
    if asset is None or asset.status == AssetStatus.DELETED:
        raise ApiError(404, "file not found")
    statement = (
        select(File, FileSet.backend)
        .join(FileSet, col(FileSet.id) == col(File.file_set_id))
        .join(Format, col(Format.id) == col(FileSet.format_id))
        .where(Format.asset_id == file_id, Format.name == format)
        .order_by(col(File.name))
    )
    if name is not None:
        statement = statement.where(File.name == name)
    found = session.exec(statement).first()
    if found is None:
        raise ApiError(404, f"the file has no {format} content", field="format")
    stored, backend = found
    etag = f'"{stored.sha256}"'
    if if_none_match is not None and etag in {tag.strip() for tag in if_none_match.split(",")}:
        return Response(status_code=304, headers={"ETag": etag})
    store = open_store(context.settings)
    if backend != store.backend:
        raise ApiError(404, f"the file is stored on {backend}, not on this server's store")
    where = store.locate(stored.key, expires_s=PRESIGNED_S)
    if backend == "s3":
        return RedirectResponse(where, status_code=307, headers={"ETag": etag})
    return FileResponse(
        Path(where),
        media_type=stored.content_type or "application/octet-stream",
        headers={"ETag": etag, "Cache-Control": "private, max-age=31536000, immutable"},
    )

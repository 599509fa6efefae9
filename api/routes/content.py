"""GET /files/{id}/content: a file's bytes, seekable, cached by content.

The bytes are streamed with ``Range`` (a browser seeks in a proxy) and
``If-Range``: from the filesystem by Starlette, from S3 here with one ranged
GET, a chunk at a time. On S3 the answer by default redirects to a
short-lived presigned URL instead (``Settings.api_s3_redirect``), which S3
serves with ranges itself. The ETag is the content's SHA-256, so
``If-None-Match`` answers 304 without reading a byte.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Response
from fastapi.responses import FileResponse, RedirectResponse, StreamingResponse
from sqlmodel import col, select

from api.auth import require
from api.context import Context, DbSession
from api.errors import ApiError, ErrorBody
from api.keys import Scope
from api.routes.files import FileId
from models.tables import ORIGINAL, Asset, AssetStatus, File, FileSet, Format
from storage import open_store
from storage.filesystem import COPY_BUFFER_BYTES
from storage.s3 import S3Store

router = APIRouter(tags=["files"], dependencies=[Depends(require(Scope.ASSETS))])

# How long a presigned URL the redirect points at stays valid.
PRESIGNED_S = 900
# One range, as browsers and players ask: "bytes=a-b", "bytes=a-" or "bytes=-n".
_SINGLE_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


@router.get(
    "/files/{file_id}/content",
    response_class=Response,
    responses={
        200: {"content": {"application/octet-stream": {}}, "description": "The bytes"},
        206: {"description": "The range asked for"},
        416: {"description": "The range asked for is beyond the bytes"},
        304: {"description": "Unchanged (If-None-Match)"},
        307: {"description": "On S3 (by default): a presigned URL to read the bytes from"},
        404: {"model": ErrorBody},
    },
)
def file_content(
    file_id: FileId,
    context: Context,
    session: DbSession,
    format: Annotated[
        str, Query(description="ORIGINAL, PROXY, POSTER, SIZE_320 ...", max_length=64)
    ] = ORIGINAL,
    name: Annotated[
        str | None, Query(description="A file of the format by name; default its first")
    ] = None,
    if_none_match: Annotated[str | None, Header()] = None,
    range_header: Annotated[str | None, Header(alias="range")] = None,
    if_range: Annotated[str | None, Header()] = None,
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
    media_type = stored.content_type or "application/octet-stream"
    headers = {"ETag": etag, "Cache-Control": "private, max-age=31536000, immutable"}
    if isinstance(store, S3Store):
        if context.settings.api_s3_redirect:
            where = store.locate(stored.key, expires_s=PRESIGNED_S)
            return RedirectResponse(where, status_code=307, headers={"ETag": etag})
        if if_range is not None and if_range.strip() != etag:
            range_header = None  # the client's copy is another content: send it all
        return _stream(store, stored.key, stored.size, range_header, media_type, headers)
    return FileResponse(Path(store.locate(stored.key)), media_type=media_type, headers=headers)


def _stream(
    store: S3Store,
    key: str,
    size: int,
    range_header: str | None,
    media_type: str,
    headers: dict[str, str],
) -> Response:
    """Stream the object, or the one range asked for, through the API without holding it."""
    headers = {**headers, "Accept-Ranges": "bytes"}
    start, end, status = 0, size - 1, 200
    if range_header is not None:
        try:
            span = _single_range(range_header, size)
        except _Unsatisfiable:
            return Response(
                status_code=416, headers={**headers, "Content-Range": f"bytes */{size}"}
            )
        if span is not None:
            (start, end), status = span, 206
            headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    headers["Content-Length"] = str(end - start + 1)
    return StreamingResponse(
        _chunks(store, key, start, end - start + 1),
        status_code=status,
        media_type=media_type,
        headers=headers,
    )


class _Unsatisfiable(Exception):
    """The range asked for starts beyond the object's last byte."""


def _single_range(header: str, size: int) -> tuple[int, int] | None:
    """Return the first and last byte of a single range, or None to send all.

    Several ranges or an unparsable header are answered with the whole
    object, as RFC 9110 allows a server to ignore Range. Raises
    ``_Unsatisfiable`` for a range outside the object.
    """
    match = _SINGLE_RANGE.fullmatch(header.strip())
    if match is None or match.group(1) == match.group(2) == "":
        return None
    first, last = match.group(1), match.group(2)
    if first == "":  # the last n bytes
        if int(last) == 0 or size == 0:
            raise _Unsatisfiable
        return max(size - int(last), 0), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if last and int(last) < start:
        return None
    if start >= size:
        raise _Unsatisfiable
    return start, end


def _chunks(store: S3Store, key: str, offset: int, length: int) -> Iterator[bytes]:
    """Yield the ``length`` bytes from ``offset`` a buffer at a time; close the GET at the end."""
    if length <= 0:
        return
    with store.open(key, offset=offset, length=length) as reader:
        while chunk := reader.read(COPY_BUFFER_BYTES):
            yield chunk

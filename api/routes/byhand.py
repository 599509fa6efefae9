"""Building an asset by hand (the iconik model): formats, file sets, files in place, own proxies.

    GET   /storages                                  the storages files may lie in place on
    POST  /assets/{id}/formats                       a format (ORIGINAL, MEZZANINE ...)
    POST  /assets/{id}/file_sets                     where a format's files lie, what they carry
    POST  /assets/{id}/files                         a file in place: OPEN, not yet verified
    PATCH /assets/{id}/files/{file_id}               CLOSED: its bytes read where they lie
    POST  /assets/{id}/proxies                       an OPEN proxy and the URL to PUT it to
    PUT   /assets/{id}/proxies/{proxy_id}/content    that upload, through the API
    PATCH /assets/{id}/proxies/{proxy_id}            CLOSED: verified, kept under its content key
    POST  /assets/{id}/proxies/{proxy_id}/keyframes  keyframe map and poster made from it

A file is CLOSED only once its bytes have been read, streaming, and match the
size and checksum its registration gave; a mismatch leaves it OPEN with the
reason in its ``error``. Files in place are never copied; a proxy is uploaded
beside the content store's objects and moved under its content key when closed.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import anyio
from fastapi import APIRouter, Depends, Request, Response
from sqlmodel import Session, col, select

from api.auth import require
from api.context import AppContext, Context, DbSession
from api.errors import ApiError, ErrorBody
from api.keys import Scope
from api.routes.assets import live_asset
from api.schemas import (
    AssetDetail,
    FileClose,
    FileRegister,
    FileSetCreate,
    FileSetObject,
    FormatCreate,
    FormatObject,
    ProxyCreate,
    ProxyObject,
    StorageObject,
    StoragePage,
    StoredFile,
)
from api.views import file_set_object, format_object, load_asset_detail, stored_file
from core.errors import IngestError, TransientError
from models import graph
from models.db import new_session
from models.gc import Content, claim_contents
from models.tables import PROXY, Asset, File, FileSet, FileStatus, Format
from storage import S3Store, open_store
from storage.digest import FileDigest, digest_stream
from storage.stored import StoredObject, store_content
from tasks.in_place import digest_in_place, locate, storage_store

T = TypeVar("T")

router = APIRouter(tags=["assets by hand"], responses={404: {"model": ErrorBody}})

READ = [Depends(require(Scope.ASSETS))]
WRITE = [Depends(require(Scope.ASSETS_PUBLISH))]
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorBody, "description": "The name is taken, or the file is closed"}
}
CLOSING: dict[int | str, dict[str, Any]] = {
    422: {"model": ErrorBody, "description": "Its bytes do not match: it stays OPEN"},
    503: {"model": ErrorBody, "description": "Its storage cannot be reached just now"},
}
# How long a presigned proxy upload URL stays valid.
UPLOAD_URL_S = 3600
# Proxies wait here, beside the content keys, until they are closed.
UPLOAD_PREFIX = "uploads/proxies/"


@router.get("/storages", response_model=StoragePage, dependencies=READ)
def list_storages(context: Context) -> StoragePage:
    """List the storages the operator configured for files in place (ASSETFLOW_STORAGES)."""
    data = []
    for name in sorted(context.settings.storages):
        store = storage_store(context.settings, name)
        prefix = store.prefix if isinstance(store, S3Store) else ""
        data.append(
            StorageObject(name=name, backend=store.backend, bucket=store.bucket, prefix=prefix)
        )
    return StoragePage(data=data)


@router.post(
    "/assets/{asset_id}/formats",
    status_code=201,
    response_model=FormatObject,
    dependencies=WRITE,
    responses=CONFLICT,
)
def create_format(asset_id: uuid.UUID, body: FormatCreate, session: DbSession) -> FormatObject:
    """Add a format to the asset; its name is unique within the asset. Writes asset.changed."""
    asset = live_asset(session, asset_id)
    if graph.find_format(session=session, asset_id=asset.id, name=body.name) is not None:
        raise ApiError(409, f"the asset has a format named {body.name} already", field="name")
    fmt = graph.add_format(session=session, asset=asset, name=body.name, technical=body.technical)
    session.commit()
    return format_object(fmt, [])


@router.post(
    "/assets/{asset_id}/file_sets",
    status_code=201,
    response_model=FileSetObject,
    dependencies=WRITE,
)
def create_file_set(
    asset_id: uuid.UUID, body: FileSetCreate, context: Context, session: DbSession
) -> FileSetObject:
    """Add a file set to one of the asset's formats, on a configured storage."""
    asset = live_asset(session, asset_id)
    fmt = _format(session, asset, body.format)
    store = _refused(lambda: storage_store(context.settings, body.storage), field="storage")
    file_set = graph.add_file_set(
        session=session,
        asset=asset,
        fmt=fmt,
        name=body.name,
        backend=store.backend,
        bucket=store.bucket,
        storage=body.storage,
        components=[component.model_dump() for component in body.components],
    )
    session.commit()
    return file_set_object(file_set, [])


@router.post(
    "/assets/{asset_id}/files", status_code=201, response_model=StoredFile, dependencies=WRITE
)
def register_file(
    asset_id: uuid.UUID, body: FileRegister, context: Context, session: DbSession
) -> StoredFile:
    """Register a file lying in place on its file set's storage: OPEN until closed.

    The path is relative to the storage's root or prefix and may not leave it.
    """
    asset = live_asset(session, asset_id)
    file_set = session.get(FileSet, body.file_set_id)
    if file_set is None or file_set.asset_id != asset.id:
        raise ApiError(422, "the asset has no such file set", field="file_set_id")
    if file_set.storage is None:
        raise ApiError(
            422,
            "that file set is in the content store: files reach it by upload (POST .../proxies)",
            field="file_set_id",
        )
    storage = file_set.storage
    place = _refused(
        lambda: locate(context.settings, storage=storage, path=body.path), field="path"
    )
    file = graph.register_file(
        session=session,
        asset=asset,
        file_set=file_set,
        name=body.name,
        key=place.path,
        size=body.size,
        checksum=body.checksum.lower(),
        content_type=body.content_type,
    )
    session.commit()
    return stored_file(file)


@router.patch(
    "/assets/{asset_id}/files/{file_id}",
    response_model=StoredFile,
    dependencies=WRITE,
    responses=CLOSING,
)
def close_file(
    asset_id: uuid.UUID, file_id: uuid.UUID, _body: FileClose, context: Context, session: DbSession
) -> StoredFile:
    """Close a file: read its bytes where they lie and check their size and checksum."""
    return stored_file(_close(context, session, asset_id, file_id))


@router.post(
    "/assets/{asset_id}/proxies",
    status_code=201,
    response_model=ProxyObject,
    dependencies=WRITE,
)
def create_proxy(
    asset_id: uuid.UUID, body: ProxyCreate, context: Context, session: DbSession
) -> ProxyObject:
    """Start a proxy of the client's own: an OPEN file of the PROXY format and its upload URL.

    PUT the bytes to ``upload_url`` (a presigned S3 URL, or this API's upload
    route on a filesystem store), then PATCH the proxy to CLOSED.
    """
    asset = live_asset(session, asset_id)
    store = open_store(context.settings)
    file_set = _proxy_file_set(session, asset, store.backend, store.bucket)
    proxy_id = uuid.uuid4()
    file = graph.register_file(
        session=session,
        asset=asset,
        file_set=file_set,
        name=body.name,
        key=f"{UPLOAD_PREFIX}{proxy_id}",
        size=body.size,
        checksum=body.checksum.lower(),
        content_type=body.content_type,
        file_id=proxy_id,
    )
    session.commit()
    return _proxy_object(context, file)


@router.put(
    "/assets/{asset_id}/proxies/{proxy_id}/content",
    status_code=204,
    response_class=Response,
    dependencies=WRITE,
    responses={
        **CONFLICT,
        413: {"model": ErrorBody, "description": "More bytes than the proxy's size"},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/octet-stream": {"schema": {"type": "string"}}},
        }
    },
)
async def upload_proxy(
    asset_id: uuid.UUID, proxy_id: uuid.UUID, request: Request, context: Context
) -> Response:
    """Upload an OPEN proxy's bytes as the request body (the filesystem store's upload URL)."""
    file = await anyio.to_thread.run_sync(_open_proxy, context, asset_id, proxy_id)
    descriptor, name = tempfile.mkstemp(prefix="proxy-", dir=context.settings.temp_dir)
    path = Path(name)
    try:
        with os.fdopen(descriptor, "wb") as sink:
            received = 0
            async for chunk in request.stream():
                received += len(chunk)
                if received > file.size:
                    raise ApiError(413, f"the proxy was declared as {file.size} bytes")
                sink.write(chunk)
        store = open_store(context.settings)
        await anyio.to_thread.run_sync(store.delete, file.key)
        await anyio.to_thread.run_sync(store.put_file, file.key, path)
    finally:
        path.unlink(missing_ok=True)
    return Response(status_code=204)


@router.patch(
    "/assets/{asset_id}/proxies/{proxy_id}",
    response_model=ProxyObject,
    dependencies=WRITE,
    responses=CLOSING,
)
def close_proxy(
    asset_id: uuid.UUID,
    proxy_id: uuid.UUID,
    _body: FileClose,
    context: Context,
    session: DbSession,
) -> ProxyObject:
    """Close an uploaded proxy: check its size and checksum, keep it under its content key."""
    _proxy(session, asset_id, proxy_id)
    return _proxy_object(context, _close(context, session, asset_id, proxy_id))


@router.post(
    "/assets/{asset_id}/proxies/{proxy_id}/keyframes",
    response_model=AssetDetail,
    dependencies=WRITE,
    responses={422: {"model": ErrorBody, "description": "Not closed, or not a video"}},
)
def make_keyframes(
    asset_id: uuid.UUID, proxy_id: uuid.UUID, context: Context, session: DbSession
) -> AssetDetail:
    """Make the keyframe map and poster from a closed proxy, as the pipeline's video step does.

    The asset is then ready. Answers once they are recorded.
    """
    from flows.derive_video import ensure_transcode_limit
    from flows.proxy_keyframes import proxy_keyframes

    proxy = _proxy(session, asset_id, proxy_id)
    if proxy.status != FileStatus.CLOSED:
        raise ApiError(422, "close the proxy first (PATCH it to CLOSED)", field="proxy_id")
    session.rollback()  # no transaction held open while the video is decoded
    ensure_transcode_limit(context.settings)
    state = proxy_keyframes(asset_id, proxy_id, return_state=True)
    if not state.is_completed():
        raise ApiError(422, state.message or "making the keyframes failed", field="proxy_id")
    detail = load_asset_detail(session, asset_id)
    assert detail is not None
    return detail


def _refused(attempt: Callable[[], T], *, field: str) -> T:
    """Run a storage check; its refusal answers 422 naming ``field``."""
    try:
        return attempt()
    except IngestError as exc:
        raise ApiError(422, str(exc), field=field) from exc


def _format(session: Session, asset: Asset, name: str) -> Format:
    fmt = graph.find_format(session=session, asset_id=asset.id, name=name)
    if fmt is None:
        raise ApiError(422, f"the asset has no format named {name}", field="format")
    return fmt


def _proxy_file_set(session: Session, asset: Asset, backend: str, bucket: str) -> FileSet:
    """Return the PROXY format's file set in the content store, making either as needed."""
    fmt = graph.find_format(session=session, asset_id=asset.id, name=PROXY)
    if fmt is None:
        fmt = graph.add_format(session=session, asset=asset, name=PROXY, technical={})
    file_set = session.exec(
        select(FileSet).where(FileSet.format_id == fmt.id, col(FileSet.storage).is_(None))
    ).first()
    if file_set is not None:
        return file_set
    return graph.add_file_set(
        session=session,
        asset=asset,
        fmt=fmt,
        name="proxies",
        backend=backend,
        bucket=bucket,
        storage=None,
        components=[],
    )


def _proxy(session: Session, asset_id: uuid.UUID, proxy_id: uuid.UUID) -> File:
    """Return the asset's proxy file; 404 for any other file."""
    found = session.exec(
        select(File)
        .join(FileSet, col(FileSet.id) == col(File.file_set_id))
        .join(Format, col(Format.id) == col(FileSet.format_id))
        .where(File.id == proxy_id, File.asset_id == asset_id, Format.name == PROXY)
    ).first()
    if found is None:
        raise ApiError(404, "the asset has no such proxy")
    return found


def _open_proxy(context: AppContext, asset_id: uuid.UUID, proxy_id: uuid.UUID) -> File:
    with new_session(context.engine) as session:
        live_asset(session, asset_id)
        file = _proxy(session, asset_id, proxy_id)
        if file.status != FileStatus.OPEN:
            raise ApiError(409, "the proxy is closed: its bytes are kept as they are")
        return file


def _proxy_object(context: AppContext, file: File) -> ProxyObject:
    upload_url = None
    if file.status == FileStatus.OPEN:
        store = open_store(context.settings)
        upload_url = (
            store.presign_put(file.key, expires_s=UPLOAD_URL_S)
            if isinstance(store, S3Store)
            else f"/assets/{file.asset_id}/proxies/{file.id}/content"
        )
    return ProxyObject(**stored_file(file).model_dump(), upload_url=upload_url)


def _close(context: AppContext, session: Session, asset_id: uuid.UUID, file_id: uuid.UUID) -> File:
    """Read an OPEN file's bytes, check them against its registration, and close it.

    No transaction is held while the bytes are read; a mismatch is kept in the
    file's ``error`` and answered 422, the file left OPEN.
    """
    file = session.get(File, file_id)
    if file is None or file.asset_id != asset_id:
        raise ApiError(404, "the asset has no such file")
    live_asset(session, asset_id)
    if file.status == FileStatus.CLOSED:
        return file
    session.expunge(file)  # kept as read: no transaction is held open while reading
    session.rollback()
    with tempfile.TemporaryDirectory(prefix="close-", dir=context.settings.temp_dir) as work:
        try:
            stored = _read(context, file, Path(work))
        except _Mismatch as exc:
            _keep_error(session, file_id, str(exc))
            raise ApiError(422, str(exc), field="checksum", file_id=str(file_id)) from exc
        asset = live_asset(session, asset_id)
        current = session.get_one(File, file_id, with_for_update=True)
        if current.status == FileStatus.OPEN:
            graph.close_file(session=session, asset=asset, file=current, stored=stored)
        session.commit()
    if file.storage is None:  # the proxy's upload now lies under its content key
        open_store(context.settings).delete(file.key)
    return session.get_one(File, file_id)


class _Mismatch(Exception):
    """The bytes read are not the ones the registration described, or are not there."""


def _read(context: AppContext, file: File, work: Path) -> StoredObject:
    """Read the file's bytes where they lie; return them as stored, or raise _Mismatch."""
    try:
        if file.storage is not None:
            place = locate(context.settings, storage=file.storage, path=file.key)
            digest = digest_in_place(place)
            _check(file, digest)
            return StoredObject(
                backend=place.store.backend,
                bucket=place.store.bucket,
                key=place.path,
                sha256=digest.sha256,
                md5=digest.md5,
                size=digest.size,
                content_type=file.content_type,
                uploaded=False,
            )
        store = open_store(context.settings)
        copy = work / "upload"
        with store.open(file.key) as source, copy.open("wb") as sink:
            digest = digest_stream(source, copy_to=sink)
    except TransientError as exc:
        raise ApiError(503, f"{file.name} cannot be read just now: {exc}; try again") from exc
    except IngestError as exc:
        raise _Mismatch(f"{file.name} cannot be read: {exc}; it stays OPEN") from exc
    _check(file, digest)
    with new_session(context.engine) as claims:
        content = Content(digest, file.content_type)
        claim_contents(
            session=claims, backend=store.backend, bucket=store.bucket, contents=[content]
        )
        claims.commit()
    return store_content(store, copy, digest=digest, content_type=file.content_type)


def _check(file: File, digest: FileDigest) -> None:
    """Raise _Mismatch when the bytes read differ in size or checksum from the registration."""
    if digest.size != file.size:
        raise _Mismatch(
            f"{file.name} is {digest.size} bytes, not the {file.size} registered; it stays OPEN"
        )
    checksum = file.checksum or ""
    algorithm, actual = ("MD5", digest.md5) if len(checksum) == 32 else ("SHA-256", digest.sha256)
    if checksum and actual != checksum:
        raise _Mismatch(
            f"checksum mismatch: the {algorithm} of {file.name} is {actual}, "
            f"not {checksum} as registered; it stays OPEN"
        )


def _keep_error(session: Session, file_id: uuid.UUID, error: str) -> None:
    file = session.get_one(File, file_id, with_for_update=True)
    file.error = error
    session.add(file)
    session.commit()

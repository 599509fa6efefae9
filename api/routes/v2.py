"""Project assets v2 (``/api/v2``): the reference service's contract, field for field.

Answers wrap the asset as ``{"asset": {...}}`` with exactly the reference's
fields; errors are ``{"error": sentence}`` alone, worded as the reference
words them (api/compat.py). How its fields map onto the graph:

    media_type   no media: "placeholder" (kind other, status pending) or "article"
                 (kind document, status ready: nothing to fetch); from ``url`` or
                 ``s3``: "processing" while pending or processing, then the kind
                 (image, video, audio, document, other), "failed" if the ingest failed
    status       always "open" (the reference's workflow state, not the pipeline's)
    owner        the name of the API key that created the asset
    category     stored lower-cased
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal, cast
from urllib.parse import urlsplit

import anyio
from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field, field_validator
from sqlmodel import col, select

from api.auth import require
from api.compat import BareErrorRoute, invalid_parameter
from api.context import Context, DbSession
from api.errors import ApiError, ErrorBody
from api.ingest import create_asset_with_ingest
from api.keys import Scope
from api.views import original_md5s
from core.kinds import AssetKind
from core.requests import AssetRequest
from models.db import new_session
from models.tables import ApiKey, Asset, AssetStatus, DropFolder, Project

router = APIRouter(
    prefix="/api/v2",
    tags=["v2"],
    route_class=BareErrorRoute,
    responses={
        401: {"model": ErrorBody},
        403: {"model": ErrorBody},
        404: {"model": ErrorBody},
        422: {"model": ErrorBody},
    },
)

Caller = Annotated[ApiKey, Depends(require(Scope.ASSETS))]
PROJECT_NOT_FOUND = "project not found"
MediaType = Literal[
    "placeholder", "article", "processing", "image", "video", "audio", "document", "other", "failed"
]


class V2UrlMedia(BaseModel):
    """Media to fetch from an http(s) URL."""

    file_url: str
    filename: str = Field(max_length=512)

    @field_validator("file_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value.strip())
        if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
            raise ValueError("Must be an http(s) URL")
        return value.strip()


class V2S3Media(BaseModel):
    """Media to copy from S3: ``s3://bucket/key``, or a key in the store's own bucket."""

    s3_key: str = Field(min_length=1, max_length=1024)
    filename: str = Field(max_length=512)


class V2AssetCreate(BaseModel):
    """POST /api/v2/projects/{project_id}/assets; unknown fields are ignored (as the reference)."""

    title: str = Field(max_length=1024)
    description: str | None = None
    category: str | None = Field(default=None, max_length=200)
    tags: list[str] = Field(default_factory=list)
    external_id: str | None = Field(default=None, max_length=256)
    media_type: Literal["article"] | None = Field(
        default=None, description="Absent: a placeholder waiting for media"
    )
    url: V2UrlMedia | None = None
    s3: V2S3Media | None = None


class V2Asset(BaseModel):
    """An asset as the reference shows it."""

    id: uuid.UUID
    external_id: str | None
    parent_id: uuid.UUID | None
    project_id: uuid.UUID
    owner: str | None = Field(description="The name of the API key that created it")
    title: str | None
    description: str | None
    category: str | None
    tags: list[str]
    ai_tags: list[str]
    status: Literal["open"] = "open"
    media_type: MediaType
    original_filename: str | None
    drop_folder_id: uuid.UUID | None
    md5_sum: str | None
    created_date: datetime
    modification_date: datetime
    deleted: bool


class V2AssetAnswer(BaseModel):
    """The reference's wrapping of one asset."""

    asset: V2Asset


class V2DropFolder(BaseModel):
    """An S3 prefix the batch flow reads; its assets carry its id."""

    id: uuid.UUID
    location: str
    created_date: datetime


class V2DropFolders(BaseModel):
    """Every drop folder, oldest first."""

    drop_folders: list[V2DropFolder]


def media_type(asset: Asset) -> MediaType:
    """Say what the reference calls the asset's media (see the module's table)."""
    if not asset.source:
        return "article" if asset.kind == AssetKind.DOCUMENT else "placeholder"
    if asset.status in (AssetStatus.PENDING, AssetStatus.PROCESSING):
        return "processing"
    if asset.status == AssetStatus.FAILED:
        return "failed"
    return cast(MediaType, AssetKind(asset.kind).value)  # read back from the row as text


def v2_asset(asset: Asset, md5: str | None) -> V2AssetAnswer:
    """Show an asset in the reference's shape; ``md5`` is its original's, once stored."""
    return V2AssetAnswer(
        asset=V2Asset(
            id=asset.id,
            external_id=asset.external_id,
            parent_id=asset.parent_id,
            project_id=asset.project_id,
            owner=asset.owner,
            title=asset.title,
            description=asset.description,
            category=asset.category,
            tags=list(asset.tags),
            ai_tags=list(asset.ai_tags),
            media_type=media_type(asset),
            original_filename=asset.original_filename,
            drop_folder_id=asset.drop_folder_id,
            md5_sum=md5,
            created_date=asset.created_at,
            modification_date=asset.updated_at,
            deleted=asset.status == AssetStatus.DELETED,
        )
    )


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def _project(context: Context, project_id: str) -> Project:
    found = _uuid(project_id)
    with new_session(context.engine) as session:
        project = session.get(Project, found) if found else None
    if project is None:
        raise ApiError(404, PROJECT_NOT_FOUND)
    return project


def _source(body: V2AssetCreate, storage_url: str) -> tuple[str, str] | None:
    """Return the media's source and filename, or None for an asset without media."""
    if body.url is not None:
        return body.url.file_url, body.url.filename
    if body.s3 is None:
        return None
    key = body.s3.s3_key.strip()
    if key.lower().startswith("s3://"):
        return key, body.s3.filename
    store = urlsplit(storage_url)
    if store.scheme != "s3":  # a bare key names the store's bucket, which this store has not
        raise invalid_parameter("s3[s3_key]", key, "Must be an s3://bucket/key URL")
    return f"s3://{store.netloc}/{key.lstrip('/')}", body.s3.filename


def _refuse_both(body: V2AssetCreate) -> None:
    """Refuse more than one of media_type, url and s3, as the reference words it."""
    given = [name for name in ("media_type", "url", "s3") if getattr(body, name) is not None]
    if len(given) > 1:
        raise ApiError(422, f"{', '.join(given)} are mutually exclusive")


@router.post("/projects/{project_id}/assets", response_model=V2AssetAnswer)
async def create_asset(
    project_id: str, body: V2AssetCreate, context: Context, caller: Caller
) -> V2AssetAnswer:
    """Create an asset: a placeholder, an article, or media fetched from a URL or S3."""
    title = body.title.strip()
    if not title:
        raise ApiError(422, "Missing parameter title")
    _refuse_both(body)
    project = await anyio.to_thread.run_sync(_project, context, project_id)
    media = _source(body, context.settings.storage_url)
    identifier = f"asset-{uuid.uuid4()}"
    request = (
        AssetRequest(
            source=media[0], project=project.name, identifier=identifier, filename=media[1]
        )
        if media
        else None
    )
    article = body.media_type == "article"
    asset_id = await anyio.to_thread.run_sync(
        lambda: create_asset_with_ingest(
            context,
            project=project,
            identifier=identifier,
            request=request,
            title=title,
            description=body.description,
            category=(body.category or "").strip().lower() or None,
            tags=[tag.strip() for tag in body.tags if tag.strip()],
            external_id=body.external_id,
            owner=caller.name,
            kind=AssetKind.DOCUMENT if article else AssetKind.OTHER,
            status=AssetStatus.READY if article else AssetStatus.PENDING,
        )
    )
    return await anyio.to_thread.run_sync(_read, context, project.id, str(asset_id))


def _read(context: Context, project_id: uuid.UUID, asset_id: str) -> V2AssetAnswer:
    found = _uuid(asset_id)
    with new_session(context.engine) as session:
        asset = session.get(Asset, found) if found else None
        if asset is None or asset.project_id != project_id:
            raise ApiError(404, "asset not found")
        return v2_asset(asset, original_md5s(session, [asset.id]).get(asset.id))


@router.get(
    "/projects/{project_id}/assets/{asset_id}",
    response_model=V2AssetAnswer,
    dependencies=[Depends(require(Scope.ASSETS))],
)
def get_asset(project_id: str, asset_id: str, context: Context) -> V2AssetAnswer:
    """Show an asset of the project (a deleted one too, with ``deleted: true``)."""
    project = _project(context, project_id)
    return _read(context, project.id, asset_id)


@router.get(
    "/drop_folders", response_model=V2DropFolders, dependencies=[Depends(require(Scope.ASSETS))]
)
def list_drop_folders(session: DbSession) -> V2DropFolders:
    """List the S3 prefixes the batch flow reads (ASSETFLOW_BATCH_MANIFEST and every one run)."""
    folders = session.exec(select(DropFolder).order_by(col(DropFolder.created_at))).all()
    return V2DropFolders(
        drop_folders=[
            V2DropFolder(id=folder.id, location=folder.location, created_date=folder.created_at)
            for folder in folders
        ]
    )

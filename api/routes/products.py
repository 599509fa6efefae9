"""Ingest by identifier (``/api/products``): a product's images and videos, as the reference.

How a product maps onto the graph: a product is an asset of the products
project (``ASSETFLOW_PRODUCTS_PROJECT``) with identifier ``product:{id}``,
role ``product`` and no media. Each image or video is an asset of the same
project whose ``parent_id`` is the product, whose ``role`` is its ``type``
("poster", "trailer" ...) and whose folder is ``images`` or ``videos``;
its ``identifier`` is the one given, unique within the project (the same
identifier again is 409, whatever the rest). ``data`` is kept verbatim on
the asset and shown with ``processed`` set from the pipeline. Errors are
``{"error": sentence}`` alone (api/compat.py).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import quote

import anyio
from fastapi import APIRouter, Depends, Path, Response
from pydantic import BaseModel, Field, field_validator
from sqlmodel import Session, select

from api.auth import require
from api.compat import BareErrorRoute
from api.context import AppContext, Context
from api.errors import ApiError, ErrorBody
from api.ids import file_id
from api.ingest import create_asset_with_ingest
from api.keys import Scope
from api.views import load_asset_detail
from core.errors import IdentifierConflict
from core.kinds import AssetKind
from core.requests import AssetRequest
from models import graph
from models.db import new_session
from models.tables import AUDIO_FRAGMENT, SIZE_PREFIX, ApiKey, Asset, AssetStatus, Project

router = APIRouter(
    prefix="/api/products",
    tags=["products"],
    route_class=BareErrorRoute,
    responses={
        401: {"model": ErrorBody},
        403: {"model": ErrorBody},
        404: {"model": ErrorBody},
        422: {"model": ErrorBody},
    },
)

Caller = Annotated[ApiKey, Depends(require(Scope.ASSETS))]
ProductId = Annotated[str, Path(min_length=1, max_length=200, description="Your product's id")]
PRODUCT_ROLE = "product"
Collection = Literal["images", "videos"]


def _product_identifier(product_id: str) -> str:
    return f"product:{product_id}"


class ProductMediaCreate(BaseModel):
    """One image or video of a product: your identifier for it, its type and where it is."""

    identifier: str = Field(min_length=1, max_length=1024)
    type: str = Field(min_length=1, max_length=64, description='"poster", "trailer" ...')
    source_url: str = Field(description="An http(s) URL: a file, or a video page (YouTube)")
    data: dict[str, Any] = Field(
        default_factory=dict, description="Your JSON, kept verbatim and shown back"
    )

    @field_validator("identifier", "type")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("Must not be blank")
        return value.strip()

    @field_validator("source_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.strip().lower().startswith(("http://", "https://")):
            raise ValueError("Must be an http(s) URL")
        return value.strip()


class ImageCreate(BaseModel):
    """POST /api/products/{id}/images."""

    image: ProductMediaCreate


class VideoCreate(BaseModel):
    """POST /api/products/{id}/videos."""

    video: ProductMediaCreate


class ImageSize(BaseModel):
    """One size of an image (WebP, longest edge in its name)."""

    name: str
    width: int | None
    height: int | None
    url: str


class AudioFragment(BaseModel):
    """One fragment of a video's sound track, with its Chromaprint fingerprint."""

    name: str
    offset_s: float | None
    duration_s: float | None
    fingerprint: str | None
    url: str


class ProductMedia(BaseModel):
    """An image or a video of a product, as the pipeline has it so far."""

    id: uuid.UUID
    product_id: str
    identifier: str
    type: str | None
    source_url: str
    data: dict[str, Any] = Field(description="Yours, with processed: true once processed")
    status: AssetStatus
    kind: AssetKind
    error: str | None
    created_at: datetime
    updated_at: datetime


class ProductImage(ProductMedia):
    """A product's image and its sizes."""

    sizes: list[ImageSize]


class ProductVideo(ProductMedia):
    """A product's video and its sound track's fragments and fingerprints."""

    audio_fragments: list[AudioFragment]


class ImageAnswer(BaseModel):
    image: ProductImage


class VideoAnswer(BaseModel):
    video: ProductVideo


class Product(BaseModel):
    """A product and what is attached to it."""

    id: str
    images: list[ProductImage]
    videos: list[ProductVideo]


class ProductAnswer(BaseModel):
    product: Product


def _ensure_product(session: Session, project: Project, product_id: str) -> Asset:
    identifier = _product_identifier(product_id)
    found = graph.find_asset(session=session, project_id=project.id, identifier=identifier)
    if found is not None:
        return found
    try:
        return graph.create_asset(
            session=session,
            project=project,
            identifier=identifier,
            source="",
            title=product_id,
            role=PRODUCT_ROLE,
            status=AssetStatus.READY,
        )
    except IdentifierConflict:  # made meanwhile by another request
        made = graph.find_asset(session=session, project_id=project.id, identifier=identifier)
        assert made is not None
        return made


def _product_and_project(context: AppContext, product_id: str) -> tuple[Project, uuid.UUID]:
    with new_session(context.engine) as session:
        project = graph.ensure_project(session=session, name=context.settings.products_project)
        product = _ensure_product(session, project, product_id)
        session.commit()
        return project, product.id


def _create(
    context: AppContext,
    product_id: str,
    collection: Collection,
    body: ProductMediaCreate,
    owner: str,
) -> uuid.UUID:
    project, product = _product_and_project(context, product_id)
    request = AssetRequest(source=body.source_url, project=project.name, identifier=body.identifier)
    return create_asset_with_ingest(
        context,
        project=project,
        identifier=body.identifier,
        request=request,
        role=body.type,
        parent_id=product,
        folder=collection,
        owner=owner,
        data=body.data,
    )


def _media(session: Session, asset: Asset, product_id: str) -> ProductImage | ProductVideo:
    detail = load_asset_detail(session, asset.id)
    assert detail is not None
    fields: dict[str, Any] = {
        "id": asset.id,
        "product_id": product_id,
        "identifier": asset.identifier,
        "type": asset.role,
        "source_url": asset.source,
        "data": {**(asset.data or {}), "processed": asset.processed},
        "status": asset.status,
        "kind": asset.kind,
        "error": asset.error,
        "created_at": asset.created_at,
        "updated_at": asset.updated_at,
    }
    content = f"/files/{file_id(asset.id)}/content"
    if asset.folder == "videos":
        return ProductVideo(
            **fields,
            audio_fragments=[
                AudioFragment(
                    name=file.name,
                    offset_s=file.technical.get("offset_s"),
                    duration_s=file.duration_s,
                    fingerprint=file.fingerprint,
                    url=f"{content}?format={fmt.name}&name={file.name}",
                )
                for fmt in detail.formats
                if fmt.name == AUDIO_FRAGMENT
                for file_set in fmt.file_sets
                for file in file_set.files
            ],
        )
    return ProductImage(
        **fields,
        sizes=[
            ImageSize(
                name=fmt.name,
                width=file.width,
                height=file.height,
                url=f"{content}?format={fmt.name}",
            )
            for fmt in detail.formats
            if fmt.name.startswith(SIZE_PREFIX)
            for file_set in fmt.file_sets
            for file in file_set.files
        ],
    )


def _read(
    context: AppContext, product_id: str, collection: Collection, media_id: str
) -> ProductImage | ProductVideo:
    try:
        wanted = uuid.UUID(media_id)
    except ValueError:
        wanted = None
    with new_session(context.engine) as session:
        asset = session.get(Asset, wanted) if wanted else None
        parent = session.get(Asset, asset.parent_id) if asset and asset.parent_id else None
        if (
            asset is None
            or parent is None
            or parent.identifier != _product_identifier(product_id)
            or asset.folder != collection
            or asset.status == AssetStatus.DELETED
        ):
            raise ApiError(404, f"{collection[:-1]} not found")
        return _media(session, asset, product_id)


def _read_product(context: AppContext, product_id: str) -> Product:
    with new_session(context.engine) as session:
        project = session.exec(
            select(Project).where(Project.name == context.settings.products_project)
        ).one_or_none()
        product = project and graph.find_asset(
            session=session, project_id=project.id, identifier=_product_identifier(product_id)
        )
        if not product:
            raise ApiError(404, "product not found")
        children = graph.child_assets(session=session, parent_id=product.id)
        shown = [_media(session, child, product_id) for child in children]
    return Product(
        id=product_id,
        images=[media for media in shown if isinstance(media, ProductImage)],
        videos=[media for media in shown if isinstance(media, ProductVideo)],
    )


@router.post(
    "/{product_id}/images",
    status_code=201,
    response_model=ImageAnswer,
    responses={409: {"model": ErrorBody}},
)
async def create_image(
    product_id: ProductId, body: ImageCreate, context: Context, caller: Caller, response: Response
) -> ImageAnswer:
    """Attach an image to the product by your identifier; it is fetched and sized."""
    media_id = await anyio.to_thread.run_sync(
        _create, context, product_id, "images", body.image, caller.name
    )
    response.headers["Location"] = f"/api/products/{quote(product_id, safe='')}/images/{media_id}"
    image = await anyio.to_thread.run_sync(_read, context, product_id, "images", str(media_id))
    assert isinstance(image, ProductImage)
    return ImageAnswer(image=image)


@router.post(
    "/{product_id}/videos",
    status_code=201,
    response_model=VideoAnswer,
    responses={409: {"model": ErrorBody}},
)
async def create_video(
    product_id: ProductId, body: VideoCreate, context: Context, caller: Caller, response: Response
) -> VideoAnswer:
    """Attach a video (a file or a video page) to the product by your identifier."""
    media_id = await anyio.to_thread.run_sync(
        _create, context, product_id, "videos", body.video, caller.name
    )
    response.headers["Location"] = f"/api/products/{quote(product_id, safe='')}/videos/{media_id}"
    video = await anyio.to_thread.run_sync(_read, context, product_id, "videos", str(media_id))
    assert isinstance(video, ProductVideo)
    return VideoAnswer(video=video)


@router.get(
    "/{product_id}/images/{image_id}",
    response_model=ImageAnswer,
    dependencies=[Depends(require(Scope.ASSETS))],
)
def get_image(product_id: ProductId, image_id: str, context: Context) -> ImageAnswer:
    """Show a product's image: ``data.processed`` and its sizes once processed."""
    image = _read(context, product_id, "images", image_id)
    assert isinstance(image, ProductImage)
    return ImageAnswer(image=image)


@router.get(
    "/{product_id}/videos/{video_id}",
    response_model=VideoAnswer,
    dependencies=[Depends(require(Scope.ASSETS))],
)
def get_video(product_id: ProductId, video_id: str, context: Context) -> VideoAnswer:
    """Show a product's video: ``data.processed`` and its audio fragments once processed."""
    video = _read(context, product_id, "videos", video_id)
    assert isinstance(video, ProductVideo)
    return VideoAnswer(video=video)


@router.get(
    "/{product_id}", response_model=ProductAnswer, dependencies=[Depends(require(Scope.ASSETS))]
)
def get_product(product_id: ProductId, context: Context) -> ProductAnswer:
    """Show a product with its images and videos."""
    return ProductAnswer(product=_read_product(context, product_id))

"""Assets: list with filters, read the whole graph, change metadata, soft-delete."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlmodel import Session

from api.auth import require
from api.context import DbSession
from api.errors import ApiError, ErrorBody
from api.keys import Scope
from api.listing import DEFAULT_LIMIT, MAX_LIMIT, cursor_error
from api.schemas import AssetDetail, AssetObject, AssetPage, AssetUpdate
from api.views import asset_object, load_asset_detail, original_md5s
from core.kinds import AssetKind
from models import graph, listing
from models.listing import AssetFilter, InvalidCursor
from models.tables import Asset, AssetStatus, Project

router = APIRouter(tags=["assets"], responses={404: {"model": ErrorBody}})

NOT_FOUND = "asset not found"


@router.get("/assets", response_model=AssetPage, dependencies=[Depends(require(Scope.ASSETS))])
def list_assets(
    session: DbSession,
    project: Annotated[str | None, Query(description="A project name")] = None,
    kind: AssetKind | None = None,
    status: Annotated[
        AssetStatus | None, Query(description="Default: every status but deleted")
    ] = None,
    tag: str | None = None,
    q: Annotated[
        str | None,
        Query(max_length=200, description="Part of the title or the identifier, any case"),
    ] = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> AssetPage:
    """List assets, newest first, a page at a time."""
    for name, bound in (("created_after", created_after), ("created_before", created_before)):
        if bound is not None and bound.tzinfo is None:
            raise ApiError(422, f"{name} needs a time zone, e.g. Z", field=name)
    filters = AssetFilter(
        project=project,
        kind=kind,
        status=status,
        tag=tag,
        search=q.strip() if q else None,
        created_after=created_after,
        created_before=created_before,
        include_deleted=False,
    )
    try:
        page = listing.list_assets(session=session, filters=filters, cursor=cursor, limit=limit)
    except InvalidCursor as exc:
        raise cursor_error() from exc
    rows = page.rows
    md5s = original_md5s(session, [asset.id for asset, _ in rows])
    return AssetPage(
        data=[asset_object(asset, name, md5s.get(asset.id)) for asset, name in rows],
        next_cursor=page.next_cursor,
    )


@router.get(
    "/assets/{asset_id}",
    response_model=AssetDetail,
    dependencies=[Depends(require(Scope.ASSETS))],
)
def get_asset(asset_id: uuid.UUID, session: DbSession) -> AssetDetail:
    """Show an asset with its whole graph: formats, file sets, files, tasks."""
    detail = load_asset_detail(session, asset_id)
    if detail is None or detail.status == AssetStatus.DELETED:
        raise ApiError(404, NOT_FOUND)
    return detail


def live_asset(session: Session, asset_id: uuid.UUID) -> Asset:
    """Return the asset, locked for update; 404 when it is missing or deleted."""
    asset = session.get(Asset, asset_id, with_for_update=True)
    if asset is None or asset.status == AssetStatus.DELETED:
        raise ApiError(404, NOT_FOUND)
    return asset


@router.put(
    "/assets/{asset_id}",
    response_model=AssetDetail,
    dependencies=[Depends(require(Scope.ASSETS_PUBLISH))],
)
def update_asset(asset_id: uuid.UUID, body: AssetUpdate, session: DbSession) -> AssetDetail:
    """Change an asset's metadata; fields left out stay. Writes asset.changed."""
    asset = live_asset(session, asset_id)
    changes = body.model_dump(exclude_unset=True)
    if "tags" in changes:
        changes["tags"] = [tag.strip() for tag in changes["tags"] or [] if tag.strip()]
    graph.update_asset(session=session, asset=asset, **changes)
    session.commit()
    detail = load_asset_detail(session, asset_id)
    assert detail is not None
    return detail


@router.delete(
    "/assets/{asset_id}",
    response_model=AssetObject,
    dependencies=[Depends(require(Scope.ASSETS_DELETE))],
)
def delete_asset(asset_id: uuid.UUID, session: DbSession) -> AssetObject:
    """Soft-delete an asset (asset.deleted); its stored bytes stay until nothing refers to them."""
    asset = live_asset(session, asset_id)
    graph.update_asset(session=session, asset=asset, status=AssetStatus.DELETED)
    session.commit()
    project = session.get_one(Project, asset.project_id)
    return asset_object(asset, project.name, original_md5s(session, [asset.id]).get(asset.id))

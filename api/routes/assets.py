"""Assets: list with filters, read the whole graph, change metadata, soft-delete."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy import exists, func, type_coerce
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Session, col, select

from api.auth import require
from api.context import DbSession
from api.errors import ApiError, ErrorBody
from api.keys import Scope
from api.listing import DEFAULT_LIMIT, MAX_LIMIT, encode_cursor, newest_first
from api.schemas import AssetDetail, AssetObject, AssetPage, AssetUpdate
from api.views import asset_object, load_asset_detail, original_md5s
from core.kinds import AssetKind
from models import graph
from models.tables import Asset, AssetStatus, Project

router = APIRouter(tags=["assets"], responses={404: {"model": ErrorBody}})

NOT_FOUND = "asset not found"


def _has_tag(session: Session, tag: str) -> Any:
    """The condition that an asset's tags hold ``tag``, in the database's own JSON terms."""
    if session.get_bind().dialect.name == "postgresql":
        return type_coerce(col(Asset.tags), JSONB).contains([tag])
    each = func.json_each(col(Asset.tags)).table_valued("value")
    return exists().select_from(each).where(each.c.value == tag)


@router.get("/assets", response_model=AssetPage, dependencies=[Depends(require(Scope.ASSETS))])
def list_assets(
    session: DbSession,
    project: Annotated[str | None, Query(description="A project name")] = None,
    kind: AssetKind | None = None,
    status: Annotated[
        AssetStatus | None, Query(description="Default: every status but deleted")
    ] = None,
    tag: str | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> AssetPage:
    """List assets, newest first, a page at a time."""
    statement: Any = select(Asset, Project.name).join(
        Project, col(Project.id) == col(Asset.project_id)
    )
    if project is not None:
        statement = statement.where(Project.name == project)
    if kind is not None:
        statement = statement.where(Asset.kind == kind)
    if status is not None:
        statement = statement.where(Asset.status == status)
    else:
        statement = statement.where(Asset.status != AssetStatus.DELETED)
    if tag is not None:
        statement = statement.where(_has_tag(session, tag))
    for name, bound in (("created_after", created_after), ("created_before", created_before)):
        if bound is not None and bound.tzinfo is None:
            raise ApiError(422, f"{name} needs a time zone, e.g. Z", field=name)
    if created_after is not None:
        statement = statement.where(col(Asset.created_at) >= created_after)
    if created_before is not None:
        statement = statement.where(col(Asset.created_at) < created_before)
    rows, more = newest_first(
        session,
        statement,
        created=col(Asset.created_at),
        row_id=col(Asset.id),
        cursor=cursor,
        limit=limit,
    )
    md5s = original_md5s(session, [asset.id for asset, _ in rows])
    last = rows[-1][0] if rows and more else None
    return AssetPage(
        data=[asset_object(asset, name, md5s.get(asset.id)) for asset, name in rows],
        next_cursor=encode_cursor(last.created_at, last.id) if last else None,
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


def _live_asset(session: Session, asset_id: uuid.UUID) -> Asset:
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
    asset = _live_asset(session, asset_id)
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
    asset = _live_asset(session, asset_id)
    graph.update_asset(session=session, asset=asset, status=AssetStatus.DELETED)
    session.commit()
    project = session.get_one(Project, asset.project_id)
    return asset_object(asset, project.name, original_md5s(session, [asset.id]).get(asset.id))

"""Collections: create, nest, add and remove assets, list both ways a page at a time.

POST   /collections                              in a project, optionally inside another
GET    /collections/{id}
PATCH  /collections/{id}                         nest it elsewhere (a cycle is refused)
GET    /collections/{id}/collections             the collections nested in it
GET    /collections/{id}/assets                  its assets, newest first
PUT    /collections/{id}/assets/{asset_id}       add an asset (asset.changed)
DELETE /collections/{id}/assets/{asset_id}       take it out (asset.changed)
GET    /assets/{id}/collections                  the collections an asset is in
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from api.auth import require
from api.context import DbSession
from api.errors import ApiError, ErrorBody
from api.keys import Scope
from api.listing import DEFAULT_LIMIT, MAX_LIMIT, encode_cursor, newest_first
from api.routes.assets import NOT_FOUND, live_asset
from api.schemas import (
    AssetPage,
    CollectionCreate,
    CollectionObject,
    CollectionPage,
    CollectionUpdate,
)
from api.views import asset_object, original_md5s
from models import collections
from models.collections import CollectionCycle, CollectionElsewhere
from models.tables import Asset, AssetStatus, Collection, CollectionAsset, Project

router = APIRouter(tags=["collections"], responses={404: {"model": ErrorBody}})

READ = [Depends(require(Scope.ASSETS))]
WRITE = [Depends(require(Scope.ASSETS_PUBLISH))]
Cursor = Annotated[str | None, Query(description="next_cursor of the page before")]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]


def collection_object(collection: Collection) -> CollectionObject:
    """Show a collection."""
    return CollectionObject(
        id=collection.id,
        project_id=collection.project_id,
        parent_id=collection.parent_id,
        name=collection.name,
        created=collection.created_at,
    )


def _collection(session: Session, collection_id: uuid.UUID, *, lock: bool = False) -> Collection:
    found = session.get(Collection, collection_id, with_for_update=lock)
    if found is None:
        raise ApiError(404, "collection not found")
    return found


def _parent(session: Session, parent_id: uuid.UUID | None) -> Collection | None:
    if parent_id is None:
        return None
    parent = session.get(Collection, parent_id)
    if parent is None:
        raise ApiError(422, "no such parent collection", field="parent_id")
    return parent


@router.post(
    "/collections",
    status_code=201,
    response_model=CollectionObject,
    dependencies=WRITE,
    responses={409: {"model": ErrorBody, "description": "The project has a collection so named"}},
)
def create_collection(
    body: CollectionCreate, session: DbSession, response: Response
) -> CollectionObject:
    """Create a collection in a project, at its top or inside another collection."""
    project = session.get(Project, body.project_id)
    if project is None:
        raise ApiError(422, "no such project", field="project_id")
    name = body.name.strip()
    taken = session.exec(
        select(Collection.id).where(Collection.project_id == project.id, Collection.name == name)
    ).first()
    if taken is not None:
        raise ApiError(409, f"the project has a collection named {name!r}", field="name")
    try:
        collection = collections.create_collection(
            session=session, project=project, name=name, parent=_parent(session, body.parent_id)
        )
    except CollectionElsewhere as exc:
        raise ApiError(422, str(exc), field="parent_id") from exc
    session.commit()
    response.headers["Location"] = f"/collections/{collection.id}"
    return collection_object(collection)


@router.get("/collections/{collection_id}", response_model=CollectionObject, dependencies=READ)
def get_collection(collection_id: uuid.UUID, session: DbSession) -> CollectionObject:
    """Show a collection."""
    return collection_object(_collection(session, collection_id))


@router.patch(
    "/collections/{collection_id}",
    response_model=CollectionObject,
    dependencies=WRITE,
    responses={409: {"model": ErrorBody, "description": "It would lie inside itself"}},
)
def update_collection(
    collection_id: uuid.UUID, body: CollectionUpdate, session: DbSession
) -> CollectionObject:
    """Nest the collection inside another one of its project (null: move it to the top)."""
    collection = _collection(session, collection_id, lock=True)
    try:
        collections.nest(
            session=session, collection=collection, parent=_parent(session, body.parent_id)
        )
    except CollectionCycle as exc:
        raise ApiError(409, str(exc), field="parent_id") from exc
    except CollectionElsewhere as exc:
        raise ApiError(422, str(exc), field="parent_id") from exc
    session.commit()
    return collection_object(collection)


@router.get(
    "/collections/{collection_id}/collections", response_model=CollectionPage, dependencies=READ
)
def list_children(
    collection_id: uuid.UUID,
    session: DbSession,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> CollectionPage:
    """List the collections nested directly in this one, newest first."""
    _collection(session, collection_id)
    return _collection_page(
        session, select(Collection).where(Collection.parent_id == collection_id), cursor, limit
    )


@router.get("/collections/{collection_id}/assets", response_model=AssetPage, dependencies=READ)
def list_collection_assets(
    collection_id: uuid.UUID,
    session: DbSession,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> AssetPage:
    """List the collection's assets, newest first (deleted ones left out)."""
    collection = _collection(session, collection_id)
    project = session.get_one(Project, collection.project_id)
    statement = (
        select(Asset)
        .join(CollectionAsset, col(CollectionAsset.asset_id) == col(Asset.id))
        .where(
            CollectionAsset.collection_id == collection_id,
            col(Asset.status) != AssetStatus.DELETED,
        )
    )
    rows, more = newest_first(
        session,
        statement,
        created=col(Asset.created_at),
        row_id=col(Asset.id),
        cursor=cursor,
        limit=limit,
    )
    md5s = original_md5s(session, [asset.id for asset in rows])
    return AssetPage(
        data=[asset_object(asset, project.name, md5s.get(asset.id)) for asset in rows],
        next_cursor=encode_cursor(rows[-1].created_at, rows[-1].id) if more else None,
    )


@router.put(
    "/collections/{collection_id}/assets/{asset_id}",
    response_model=CollectionObject,
    dependencies=WRITE,
)
def add_asset(
    collection_id: uuid.UUID, asset_id: uuid.UUID, session: DbSession
) -> CollectionObject:
    """Put an asset of the collection's project in it; putting it again changes nothing."""
    asset = live_asset(session, asset_id)
    collection = _collection(session, collection_id)
    try:
        collections.add_asset(session=session, collection=collection, asset=asset)
    except CollectionElsewhere as exc:
        raise ApiError(422, str(exc), field="asset_id") from exc
    session.commit()
    return collection_object(collection)


@router.delete(
    "/collections/{collection_id}/assets/{asset_id}",
    status_code=204,
    response_class=Response,
    dependencies=WRITE,
)
def remove_asset(collection_id: uuid.UUID, asset_id: uuid.UUID, session: DbSession) -> Response:
    """Take an asset out of the collection; 404 when it is not in it."""
    asset = live_asset(session, asset_id)
    collection = _collection(session, collection_id)
    if not collections.remove_asset(session=session, collection=collection, asset=asset):
        raise ApiError(404, "the asset is not in that collection")
    session.commit()
    return Response(status_code=204)


@router.get("/assets/{asset_id}/collections", response_model=CollectionPage, dependencies=READ)
def list_asset_collections(
    asset_id: uuid.UUID, session: DbSession, cursor: Cursor = None, limit: Limit = DEFAULT_LIMIT
) -> CollectionPage:
    """List the collections the asset is in, newest first."""
    asset = session.get(Asset, asset_id)
    if asset is None or asset.status == AssetStatus.DELETED:
        raise ApiError(404, NOT_FOUND)
    statement = (
        select(Collection)
        .join(CollectionAsset, col(CollectionAsset.collection_id) == col(Collection.id))
        .where(CollectionAsset.asset_id == asset_id)
    )
    return _collection_page(session, statement, cursor, limit)


def _collection_page(
    session: Session, statement: SelectOfScalar[Collection], cursor: str | None, limit: int
) -> CollectionPage:
    rows, more = newest_first(
        session,
        statement,
        created=col(Collection.created_at),
        row_id=col(Collection.id),
        cursor=cursor,
        limit=limit,
    )
    return CollectionPage(
        data=[collection_object(row) for row in rows],
        next_cursor=encode_cursor(rows[-1].created_at, rows[-1].id) if more else None,
    )

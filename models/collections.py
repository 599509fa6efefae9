"""Collections: named groups of a project's assets, nested in a tree.

Keyword-only functions; the caller owns the transaction. Adding an asset to
a collection or taking it out writes the asset's asset.changed event in the
same transaction. A collection is never nested below itself, however deep:
``nest`` walks up from the new parent under row locks before it moves one.
"""

from __future__ import annotations

import uuid

from sqlalchemy import delete
from sqlmodel import Session, col, select

from models.graph import graph_changed, insert_ignoring_conflicts
from models.tables import Asset, Collection, CollectionAsset, Project


class CollectionCycle(ValueError):
    """Nesting that would put a collection below itself."""


class CollectionElsewhere(ValueError):
    """A collection or asset of another project."""


def create_collection(
    *, session: Session, project: Project, name: str, parent: Collection | None
) -> Collection:
    """Add a collection to the project, at its top or inside ``parent``.

    The caller checks that the name is free in the project.
    """
    if parent is not None and parent.project_id != project.id:
        raise CollectionElsewhere(f"collection {parent.id} belongs to another project")
    collection = Collection(
        project_id=project.id, name=name, parent_id=parent.id if parent else None
    )
    session.add(collection)
    session.flush()
    return collection


def nest(*, session: Session, collection: Collection, parent: Collection | None) -> Collection:
    """Move a collection inside ``parent`` (None: to the top of its project).

    Raises ``CollectionCycle`` when ``parent`` is the collection or lies below it.
    """
    if parent is not None:
        if parent.project_id != collection.project_id:
            raise CollectionElsewhere(f"collection {parent.id} belongs to another project")
        for ancestor in _lineage(session, parent.id):
            if ancestor == collection.id:
                raise CollectionCycle(
                    f"collection {collection.id} cannot go inside {parent.id}: "
                    "that one is the collection itself or lies inside it"
                )
    collection.parent_id = parent.id if parent else None
    session.add(collection)
    session.flush()
    return collection


def _lineage(session: Session, collection_id: uuid.UUID) -> list[uuid.UUID]:
    """Return the collection's id and its ancestors' up to the top, locking each row.

    The locks make two moves that would close a loop between them wait for each other.
    """
    found: list[uuid.UUID] = []
    current: uuid.UUID | None = collection_id
    while current is not None and current not in found:
        found.append(current)
        current = session.exec(
            select(Collection.parent_id).where(Collection.id == current).with_for_update()
        ).one_or_none()
    return found


def add_asset(*, session: Session, collection: Collection, asset: Asset) -> bool:
    """Put the asset in the collection; False when it was in it already."""
    if asset.project_id != collection.project_id:
        raise CollectionElsewhere(
            f"asset {asset.id} belongs to another project than collection {collection.id}"
        )
    added = session.execute(
        insert_ignoring_conflicts(session, CollectionAsset)
        .values(collection_id=collection.id, asset_id=asset.id)
        .returning(col(CollectionAsset.asset_id))
    ).first()
    if added is None:
        return False
    change = {"collections": {"added": str(collection.id)}}
    graph_changed(session=session, asset=asset, change=change)
    return True


def remove_asset(*, session: Session, collection: Collection, asset: Asset) -> bool:
    """Take the asset out of the collection; False when it was not in it."""
    removed = session.execute(
        delete(CollectionAsset).where(
            col(CollectionAsset.collection_id) == collection.id,
            col(CollectionAsset.asset_id) == asset.id,
        )
    )
    if not removed.rowcount:  # type: ignore[attr-defined]
        return False
    change = {"collections": {"removed": str(collection.id)}}
    graph_changed(session=session, asset=asset, change=change)
    return True

"""Pages of assets, newest first, from a cursor: what ``ls`` and ``GET /assets`` read.

Keyset pagination: a page continues after the ``(created_at, id)`` of the
last row of the page before, which the cursor carries, so the thousandth page
costs what the first does. Each filter has an index ending in that order
(``Asset``'s table arguments; ``asset_tag`` for tags), so a page reads its
rows and few more whatever the size of the library. A search (part of the
title or identifier) walks the same order and checks each row, so a rare
word reads more rows before its page is full (``bench/bench_web.py``). Filters combined use
the most selective of those indexes and check the rest on the rows it gives.
There is no total count: counting a million rows on every page is the cost
this avoids.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, bindparam, or_, tuple_
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import Select

from core.kinds import AssetKind
from models.tables import Asset, AssetStatus, AssetTag, Project

MAX_PAGE = 1000


class InvalidCursor(ValueError):
    """A cursor that no page of this listing handed out."""


@dataclass(frozen=True)
class AssetFilter:
    """Which assets to list; every field set must hold."""

    project: str | None = None
    kind: AssetKind | None = None
    status: AssetStatus | None = None
    tag: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    # Part of the title or the identifier, any case.
    search: str | None = None
    # False: leave soft-deleted assets out when no status is asked for (the HTTP API).
    include_deleted: bool = True


@dataclass(frozen=True)
class AssetPage:
    """Assets with their project names, and the cursor of the next page (None: the last)."""

    rows: Sequence[tuple[Asset, str]]
    next_cursor: str | None


def encode_cursor(created_at: datetime, asset_id: uuid.UUID) -> str:
    """Make the opaque cursor that continues after this row."""
    position = json.dumps([created_at.isoformat(), asset_id.hex])
    return base64.urlsafe_b64encode(position.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    """Read a cursor back into the row it continues after; ``InvalidCursor`` if it is not one."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        created, asset_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
        position = datetime.fromisoformat(created), uuid.UUID(hex=asset_id)
    except (binascii.Error, UnicodeError, ValueError, TypeError) as exc:
        raise InvalidCursor(f"{cursor!r} is not a cursor of this listing") from exc
    if position[0].tzinfo is None:
        raise InvalidCursor(f"{cursor!r} is not a cursor of this listing")
    return position


def list_assets(
    *,
    session: Session,
    filters: AssetFilter | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> AssetPage:
    """Return one page of assets, newest first, after ``cursor`` (None: the first page).

    Raises ``InvalidCursor`` for a cursor no page handed out.
    """
    if not 1 <= limit <= MAX_PAGE:
        raise ValueError(f"a page holds 1 to {MAX_PAGE} assets, not {limit}")
    # One row past the page tells whether another page follows.
    statement = listing_statement(filters=filters or AssetFilter(), cursor=cursor, limit=limit + 1)
    rows = [(asset, name) for asset, name in session.exec(statement).all()]
    last = rows[limit - 1][0] if len(rows) > limit else None
    return AssetPage(
        rows=rows[:limit],
        next_cursor=None if last is None else encode_cursor(last.created_at, last.id),
    )


def listing_statement(
    *, filters: AssetFilter, cursor: str | None, limit: int
) -> Select[Asset, str]:
    """Build the query of ``limit`` ``(Asset, project name)`` rows after ``cursor``."""
    if filters.tag is not None:
        # Walk the tag's postings in order; they carry the asset's created_at.
        ordered_by = AssetTag.__table__.c  # type: ignore[attr-defined]
        order_time, order_id = ordered_by.created_at, ordered_by.asset_id
        statement = (
            select(Asset, Project.name)
            .join(AssetTag, col(AssetTag.asset_id) == col(Asset.id))
            .where(AssetTag.tag == filters.tag)
        )
    else:
        ordered_by = Asset.__table__.c  # type: ignore[attr-defined]
        order_time, order_id = ordered_by.created_at, ordered_by.id
        statement = select(Asset, Project.name)
    statement = statement.join(Project, col(Project.id) == col(Asset.project_id))
    for condition in _conditions(filters, order_time):
        statement = statement.where(condition)
    if cursor is not None:
        after_time, after_id = decode_cursor(cursor)
        statement = statement.where(
            tuple_(order_time, order_id)
            < tuple_(
                bindparam(None, after_time, type_=order_time.type),
                bindparam(None, after_id, type_=order_id.type),
            )
        )
    return statement.order_by(order_time.desc(), order_id.desc()).limit(limit)


def _conditions(filters: AssetFilter, order_time: ColumnElement[datetime]) -> list[Any]:
    conditions: list[Any] = []
    if filters.project is not None:
        # By the project's id, so that the (project_id, created_at, id) index serves.
        project_id = select(Project.id).where(Project.name == filters.project).scalar_subquery()
        conditions.append(col(Asset.project_id) == project_id)
    if filters.kind is not None:
        conditions.append(col(Asset.kind) == filters.kind)
    if filters.status is not None:
        conditions.append(col(Asset.status) == filters.status)
    elif not filters.include_deleted:
        conditions.append(col(Asset.status) != AssetStatus.DELETED)
    if filters.search:
        conditions.append(
            or_(
                col(Asset.title).icontains(filters.search, autoescape=True),
                col(Asset.identifier).icontains(filters.search, autoescape=True),
            )
        )
    if filters.created_after is not None:
        conditions.append(order_time >= filters.created_after)
    if filters.created_before is not None:
        conditions.append(order_time < filters.created_before)
    return conditions

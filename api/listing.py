"""Keyset pagination: a page ends with a cursor naming its last row, never an offset.

Rows are ordered newest first by (created_at, id); the next page holds the
rows strictly after the cursor in that order, so a page is an index range
scan however deep it is, and rows added meanwhile neither repeat nor shift it.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import and_, or_
from sqlmodel import Session
from sqlmodel.sql.expression import SelectOfScalar

from api.errors import ApiError

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


def encode_cursor(created_at: datetime, row_id: uuid.UUID) -> str:
    """Name a row's place in the order, opaquely."""
    raw = f"{created_at.isoformat()}|{row_id.hex}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    """Read a cursor this API gave; a 422 naming ``cursor`` for any other."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created, _, row_id = raw.partition("|")
        when = datetime.fromisoformat(created)
        if when.tzinfo is None:
            raise ValueError("naive time")
        return when, uuid.UUID(hex=row_id)
    except ValueError as exc:
        raise ApiError(422, "cursor is not one this API gave", field="cursor") from exc


def newest_first(
    session: Session,
    statement: SelectOfScalar[T],
    *,
    created: Any,
    row_id: Any,
    cursor: str | None,
    limit: int,
) -> tuple[Sequence[T], bool]:
    """Run ``statement`` for one page after ``cursor``; return its rows and whether more follow.

    ``created`` and ``row_id`` are the columns the order is on.
    """
    if cursor is not None:
        when, last = decode_cursor(cursor)
        statement = statement.where(or_(created < when, and_(created == when, row_id < last)))
    rows = session.exec(statement.order_by(created.desc(), row_id.desc()).limit(limit + 1)).all()
    return rows[:limit], len(rows) > limit

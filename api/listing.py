"""Keyset pagination: a page ends with a cursor naming its last row, never an offset.

Rows are ordered newest first by (created_at, id); the next page holds the
rows strictly after the cursor in that order, so a page is an index range
scan however deep it is, and rows added meanwhile neither repeat nor shift it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import and_, or_
from sqlmodel import Session
from sqlmodel.sql.expression import SelectOfScalar

from api.errors import ApiError
from models.listing import InvalidCursor, encode_cursor
from models.listing import decode_cursor as decode_position

# The cursor format is the asset listing's (models/listing.py), for every list here.
__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "cursor_error",
    "decode_cursor",
    "encode_cursor",
    "newest_first",
]

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


def cursor_error() -> ApiError:
    """Return the 422 naming ``cursor`` that answers a cursor this API did not give."""
    return ApiError(422, "cursor is not one this API gave", field="cursor")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    """Read a cursor this API gave; ``cursor_error()`` for any other."""
    try:
        return decode_position(cursor)
    except InvalidCursor as exc:
        raise cursor_error() from exc


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

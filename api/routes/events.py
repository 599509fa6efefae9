"""GET /events: the outbox, in the order it was written."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlmodel import col, select

from api.auth import require
from api.context import DbSession
from api.keys import Scope
from api.listing import DEFAULT_LIMIT, MAX_LIMIT
from api.schemas import EventPage
from api.views import event_object
from models.tables import Event

router = APIRouter(tags=["events"], dependencies=[Depends(require(Scope.ASSETS))])


@router.get("/events", response_model=EventPage)
def list_events(
    session: DbSession,
    # Bounded by the id column's 64 bits: a larger number would overflow the query (a 500).
    after: Annotated[
        int, Query(ge=0, le=2**63 - 1, description="The last event id seen; 0: from the start")
    ] = 0,
    type: Annotated[str | None, Query(description="Only this type, e.g. asset.ready")] = None,
    asset_id: uuid.UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> EventPage:
    """List events after ``after``, oldest first."""
    statement = select(Event).where(col(Event.id) > after)
    if type is not None:
        statement = statement.where(Event.type == type)
    if asset_id is not None:
        statement = statement.where(Event.asset_id == asset_id)
    rows = session.exec(statement.order_by(col(Event.id)).limit(limit + 1)).all()
    page = rows[:limit]
    return EventPage(
        data=[event_object(event) for event in page],
        next_cursor=page[-1].id if len(rows) > limit else None,
    )

"""GET /healthz: the asset store and the object store answer; no key needed."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from api.context import Context
from api.errors import ApiError, ErrorBody
from api.schemas import Health
from core.logs import get_logger
from models.db import new_session
from storage import open_store

router = APIRouter(tags=["health"])
logger = get_logger("api")

# A key no object has: stat() answers None for it when the store is reachable.
PROBE_KEY = "healthz/probe"


@router.get("/healthz", response_model=Health, responses={503: {"model": ErrorBody}})
def health(context: Context) -> Health:
    """Say whether the asset store and the object store can be reached."""
    try:
        with new_session(context.engine) as session:
            session.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        logger.warning("health: the asset store failed: %s", exc)
        raise ApiError(503, "the asset store cannot be reached", part="database") from exc
    try:
        open_store(context.settings).stat(PROBE_KEY)
    except Exception as exc:
        logger.warning("health: the object store failed: %s", exc)
        raise ApiError(503, "the object store cannot be reached", part="store") from exc
    return Health()

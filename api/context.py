"""What every route reaches through the app: settings, the asset store, the ingest runner."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Engine
from sqlmodel import Session

from api.runner import IngestRunner
from core.settings import Settings
from models.db import new_session


@dataclass(frozen=True)
class AppContext:
    """The app's long-lived parts, made once at start."""

    settings: Settings
    engine: Engine
    runner: IngestRunner


def get_context(request: Request) -> AppContext:
    """Return the app's context."""
    context: AppContext = request.app.state.context
    return context


def get_session(context: Annotated[AppContext, Depends(get_context)]) -> Iterator[Session]:
    """Open a session on the asset store for one request."""
    with new_session(context.engine) as session:
        yield session


Context = Annotated[AppContext, Depends(get_context)]
DbSession = Annotated[Session, Depends(get_session)]

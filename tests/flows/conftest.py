"""What every flow test reads the graph through."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlmodel import Session

from core.settings import Settings
from models.db import make_engine, new_session


@pytest.fixture
def session(pipeline_settings: Settings) -> Iterator[Session]:
    """A session on the asset store the flows under test write to."""
    engine = make_engine(pipeline_settings.database_url)
    with new_session(engine) as session:
        yield session
    engine.dispose()

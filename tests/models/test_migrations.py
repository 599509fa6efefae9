"""The migrations produce exactly the schema the models declare."""

from __future__ import annotations

from collections.abc import Callable

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine
from sqlmodel import SQLModel

import models.tables  # noqa: F401 - registers the tables


def _declared_for(dialect: str) -> Callable[..., bool]:
    """Leave out what the models declare for another database only (``Index(...).ddl_if``)."""

    def include(item: object, *_: object) -> bool:
        only_on = getattr(item, "_ddl_if", None)
        return only_on is None or only_on.dialect in (None, dialect)

    return include


def test_migrated_schema_matches_the_models(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={"compare_type": True, "include_object": _declared_for(engine.dialect.name)},
        )
        differences = compare_metadata(context, SQLModel.metadata)
    assert differences == []

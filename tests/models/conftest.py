"""A library of 100,000 images per database, loaded once for the tests that need its size."""

from __future__ import annotations

import random
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from models.db import make_engine
from tests.fixtures.synthetic import TAG, Library, load_images, planted_library


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def library(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Library]:
    """100,000 ready images tagged ``press``, random phashes and neighbours of the queries."""
    rng = random.Random(17)
    queries, hashes = planted_library(rng)
    with _database(request, tmp_path_factory) as url:
        engine = make_engine(url)
        ids = load_images(engine, hashes, tags=[TAG])
        yield Library(engine=engine, hashes=hashes, ids=ids, queries=queries)
        engine.dispose()


@contextmanager
def _database(request: pytest.FixtureRequest, factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated database of the session's own: a copy of the session's template."""
    if request.param == "sqlite":
        path = factory.mktemp("library") / "library.db"
        shutil.copyfile(Path(request.getfixturevalue("sqlite_template")), path)
        yield f"sqlite:///{path}"
        return
    port = request.getfixturevalue("postgres_port")
    template = request.getfixturevalue("postgres_template")
    name = f"assetflow_library_{uuid.uuid4().hex[:12]}"
    admin = {"host": "127.0.0.1", "port": port, "user": "postgres", "dbname": "postgres"}
    with psycopg.connect(**admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/{name}"
    finally:
        with psycopg.connect(**admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

"""The migration to phash bands and tag rows fills them in for a library that already exists."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import JSON, BigInteger, DateTime, Uuid, column, insert, table, text

from core.phash import to_int64
from models.db import make_engine, new_session
from models.migrate import upgrade_database
from models.similarity import find_similar, phash_bands

BEFORE = "c7e2a91d4b30"
# The tables as they were at BEFORE, as far as this test writes them.
PROJECT = table("project", column("id", Uuid), column("name"), column("created_at", DateTime(True)))
ASSET = table(
    "asset",
    *(column(name) for name in ("identifier", "kind", "status", "processed", "source")),
    column("id", Uuid),
    column("project_id", Uuid),
    column("tags", JSON),
    column("created_at", DateTime(True)),
    column("updated_at", DateTime(True)),
)
IMAGE_HASH = table(
    "image_hash",
    column("asset_id", Uuid),
    column("phash", BigInteger),
    column("dhash", BigInteger),
    column("created_at", DateTime(True)),
)
HASHES = [0x0123_4567_89AB_CDEF, 0xFFFF_0000_8000_0001, 0x8000_0000_0000_0000, 0]


@pytest.fixture(params=["sqlite", "postgres"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no schema yet, on each database in turn."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    port = request.getfixturevalue("postgres_port")
    name = f"assetflow_migrate_{uuid.uuid4().hex[:12]}"
    admin = dict(host="127.0.0.1", port=port, user="postgres", dbname="postgres", autocommit=True)
    with psycopg.connect(**admin) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/{name}"
    with psycopg.connect(**admin) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_upgrading_fills_in_the_bands_and_the_tag_rows(empty_url: str) -> None:
    upgrade_database(empty_url, BEFORE)
    engine = make_engine(empty_url)
    project = uuid.uuid4()
    assets = [uuid.uuid4() for _ in HASHES]
    then = datetime(2020, 1, 1, tzinfo=UTC)
    with engine.begin() as connection:
        connection.execute(insert(PROJECT).values(id=project, name="old", created_at=then))
        for n, (asset, phash) in enumerate(zip(assets, HASHES, strict=True)):
            connection.execute(
                insert(ASSET).values(
                    id=asset,
                    project_id=project,
                    identifier=f"old-{n}",
                    tags=["press", "sport", "press"] if n == 0 else [],
                    kind="image",
                    status="ready",
                    processed=True,
                    source="s",
                    created_at=then,
                    updated_at=then,
                )
            )
            connection.execute(
                insert(IMAGE_HASH).values(
                    asset_id=asset, phash=to_int64(phash), dhash=0, created_at=then
                )
            )

    upgrade_database(empty_url)

    with engine.connect() as connection:
        bands = connection.execute(
            text("SELECT phash, phash_band0, phash_band1, phash_band2, phash_band3 FROM image_hash")
        ).all()
        tags = connection.execute(text("SELECT tag FROM asset_tag ORDER BY tag")).scalars().all()
    assert sorted(bands) == sorted((to_int64(h), *phash_bands(h)) for h in HASHES)
    assert tags == ["press", "sport"]
    with new_session(engine) as session:
        found = find_similar(session=session, phash=HASHES[0] ^ 0b111, max_distance=3)
    assert [(s.asset_id, s.distance) for s in found] == [(assets[0], 3)]
    engine.dispose()

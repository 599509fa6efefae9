"""Concurrent writers on the graph: real threads released together, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from sqlalchemy import Engine, func, select

from core.errors import IdentifierConflict
from models import graph
from models.db import new_session
from models.tables import Asset, Blob, Event, Project
from storage.keys import content_key
from storage.stored import StoredObject

WRITERS = 8
T = TypeVar("T")


def _race(count: int, write: Callable[[threading.Barrier], T]) -> list[T | BaseException]:
    """Run ``write`` in ``count`` threads that pass a barrier together; return each outcome."""
    barrier = threading.Barrier(count, timeout=30)

    def attempt() -> T | BaseException:
        try:
            return write(barrier)
        except Exception as exc:  # the test inspects every outcome, expected or not
            return exc

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(lambda _: attempt(), range(count)))


def _count(engine: Engine, table: type, *where: object) -> int:
    statement = select(func.count()).select_from(table)
    for condition in where:
        statement = statement.where(condition)  # type: ignore[arg-type]
    with new_session(engine) as session:
        return int(session.execute(statement).scalar_one())


def test_the_same_identifier_created_at_once_is_one_asset_and_conflicts(engine: Engine) -> None:
    def create(barrier: threading.Barrier) -> uuid.UUID:
        with new_session(engine) as session:
            barrier.wait()
            project = graph.ensure_project(session=session, name="race")
            asset = graph.create_asset(
                session=session, project=project, identifier="episode-1", source="http://x/1"
            )
            session.commit()
            return asset.id

    outcomes = _race(WRITERS, create)

    created = [o for o in outcomes if isinstance(o, uuid.UUID)]
    conflicts = [o for o in outcomes if isinstance(o, IdentifierConflict)]
    assert len(created) == 1, outcomes
    assert len(conflicts) == WRITERS - 1, outcomes
    assert {conflict.existing_id for conflict in conflicts} == set(created)
    assert _count(engine, Project) == 1
    assert _count(engine, Asset) == 1
    assert _count(engine, Event, Event.type == "asset.created") == 1


def test_the_same_bytes_recorded_at_once_are_one_blob(engine: Engine) -> None:
    sha256 = hashlib.sha256(b"shared bytes").hexdigest()
    stored = StoredObject(
        sha256=sha256,
        md5=hashlib.md5(b"shared bytes").hexdigest(),
        size=12,
        content_type="text/plain",
        backend="s3",
        bucket="media",
        key=content_key(sha256),
        uploaded=True,
    )

    def record(barrier: threading.Barrier) -> None:
        with new_session(engine) as session:
            barrier.wait()
            graph.record_blob(session=session, stored=stored)
            session.commit()

    outcomes = _race(WRITERS, record)

    assert outcomes == [None] * WRITERS
    with new_session(engine) as session:
        blobs = session.execute(select(Blob)).scalars().all()
    assert [(blob.sha256, blob.key) for blob in blobs] == [(sha256, content_key(sha256))]


def test_different_identifiers_created_at_once_are_all_kept(engine: Engine) -> None:
    def create(barrier: threading.Barrier) -> uuid.UUID:
        with new_session(engine) as session:
            barrier.wait()
            project = graph.ensure_project(session=session, name="race")
            asset = graph.create_asset(
                session=session,
                project=project,
                identifier=uuid.uuid4().hex,
                source="http://x/many",
            )
            session.commit()
            return asset.id

    outcomes = _race(WRITERS, create)

    assert all(isinstance(o, uuid.UUID) for o in outcomes), outcomes
    assert _count(engine, Asset) == WRITERS
    assert _count(engine, Project) == 1

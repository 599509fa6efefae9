"""Graph operations on SQLite and PostgreSQL: rows, conflicts, events, dedupe."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, func, select
from sqlmodel import Session

from core.errors import IdentifierConflict
from models import graph
from models.db import new_session
from models.tables import (
    ORIGINAL,
    Asset,
    AssetStatus,
    Blob,
    Event,
    File,
    FileSet,
    FileStatus,
    Format,
    IngestJob,
    JobKind,
)
from storage.stored import StoredObject


def _stored(fill: str, *, size: int = 10) -> StoredObject:
    sha = fill * 64
    return StoredObject(
        backend="s3",
        bucket="media",
        key=f"sha256/{sha[:2]}/{sha[2:4]}/{sha}",
        sha256=sha,
        md5=fill * 32,
        size=size,
        content_type="image/png",
        uploaded=True,
    )


def _count(session: Session, table: type) -> int:
    return int(session.execute(select(func.count()).select_from(table)).scalar_one())


def _new_asset(session: Session, identifier: str = "clip-1") -> Asset:
    project = graph.ensure_project(session=session, name="news")
    return graph.create_asset(
        session=session, project=project, identifier=identifier, source="https://x.test/a.png"
    )


def test_create_asset_writes_the_asset_and_its_created_event(engine: Engine) -> None:
    with new_session(engine) as session:
        asset = _new_asset(session)
        session.commit()
    with new_session(engine) as session:
        stored = session.get_one(Asset, asset.id)
        events = session.execute(select(Event).where(Event.asset_id == asset.id)).scalars().all()
    assert stored.status == AssetStatus.PENDING
    assert stored.created_at.tzinfo is not None
    assert [event.type for event in events] == ["asset.created"]
    assert events[0].payload["identifier"] == "clip-1"


def test_same_identifier_twice_is_a_conflict_and_writes_nothing(engine: Engine) -> None:
    with new_session(engine) as session:
        _new_asset(session)
        session.commit()
    with new_session(engine) as session:
        project = graph.ensure_project(session=session, name="news")
        with pytest.raises(IdentifierConflict, match="'clip-1' is already used in project 'news'"):
            graph.create_asset(
                session=session,
                project=project,
                identifier="clip-1",
                source="https://elsewhere.test/b.png",
                title="different extra data",
            )
        session.commit()
    with new_session(engine) as session:
        assert _count(session, Asset) == 1
        assert _count(session, Event) == 1


def test_an_event_is_rolled_back_with_its_change(engine: Engine) -> None:
    with new_session(engine) as session:
        asset_id = _new_asset(session).id
        session.commit()
    with new_session(engine) as session:
        asset = session.get_one(Asset, asset_id)
        graph.update_asset(session=session, asset=asset, status=AssetStatus.FAILED, error="x")
        session.rollback()
    with new_session(engine) as session:
        assert session.get_one(Asset, asset_id).status == AssetStatus.PENDING
        assert _count(session, Event) == 1


def test_record_format_links_format_file_set_file_and_one_blob(engine: Engine) -> None:
    with new_session(engine) as session:
        first = _new_asset(session, "a")
        second = _new_asset(session, "b")
        for asset in (first, second):
            graph.record_format(
                session=session,
                asset=asset,
                name=ORIGINAL,
                files=[graph.NewFile(name="a.png", stored=_stored("a"), width=4, height=3)],
            )
        session.commit()
    with new_session(engine) as session:
        assert _count(session, Blob) == 1  # the same bytes are one blob
        files = session.execute(select(File)).scalars().all()
        assert {file.asset_id for file in files} == {first.id, second.id}
        assert all(file.status == FileStatus.CLOSED and file.width == 4 for file in files)
        assert _count(session, FileSet) == 2


def test_recording_a_format_again_replaces_it(engine: Engine) -> None:
    with new_session(engine) as session:
        asset = _new_asset(session)
        for fill in ("a", "b"):
            graph.record_format(
                session=session,
                asset=asset,
                name="SIZE_320",
                files=[graph.NewFile(name="320.webp", stored=_stored(fill))],
            )
        session.commit()
    with new_session(engine) as session:
        assert _count(session, Format) == 1
        assert session.execute(select(File.sha256)).scalar_one() == "b" * 64
        assert _count(session, Blob) == 2  # blobs are never deleted by a format change


def test_the_same_idempotency_key_gives_the_same_job(engine: Engine) -> None:
    with new_session(engine) as session:
        first, created = graph.create_job(
            session=session, kind=JobKind.INGEST, input={"source": "x"}, idempotency_key="k-1"
        )
        again, created_again = graph.create_job(
            session=session, kind=JobKind.INGEST, input={"source": "y"}, idempotency_key="k-1"
        )
        session.commit()
    assert (created, created_again) == (True, False)
    assert again.id == first.id
    with new_session(engine) as session:
        assert _count(session, IngestJob) == 1

"""The upload sweep: what `assetflow gc` aborts, and what it must leave alone."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine, update
from sqlmodel import col

from api.keys import Scope, create_key
from models.db import new_session
from models.tables import UploadProtocol, UploadSession, utcnow
from models.uploads import sweep_uploads, take_writer
from storage.filesystem import FilesystemStore
from storage.keys import staged_key


def _session(engine: Engine, store: FilesystemStore, *, expired: bool) -> UploadSession:
    """Write a session row and begin its staged write, as opening one does."""
    now = utcnow()
    with new_session(engine) as session:
        key = create_key(session=session, name="sweep", scopes=[Scope.ASSETS])
        session_id = uuid.uuid4()
        row = UploadSession(
            id=session_id,
            key_id=key.row.id,
            protocol=UploadProtocol.CHUNKED,
            file_size=10,
            backend=store.backend,
            bucket=store.bucket,
            staged_key=staged_key(str(session_id)),
            part_size=5 * 1024 * 1024,
            expires_at=now + timedelta(seconds=-1 if expired else 3600),
        )
        session.add(row)
        session.commit()
    store.begin_staged(row.staged_key, content_type=None)
    return row


def test_the_sweep_aborts_expired_and_stray_uploads_and_keeps_the_rest(
    engine: Engine, tmp_path: Path
) -> None:
    store = FilesystemStore(tmp_path / "objects")
    live = _session(engine, store, expired=False)
    expired = _session(engine, store, expired=True)
    stray = staged_key(str(uuid.uuid4()))
    store.begin_staged(stray, content_type=None)

    sweep = sweep_uploads(engine, store)

    assert (sweep.expired, sweep.strays) == (1, 1)
    assert [key for key, _ in store.iter_staged()] == [live.staged_key]
    with new_session(engine) as session:
        assert session.get(UploadSession, expired.id) is None
        assert session.get(UploadSession, live.id) is not None


def test_the_sweep_leaves_an_expired_upload_a_writer_still_holds(
    engine: Engine, tmp_path: Path
) -> None:
    store = FilesystemStore(tmp_path / "objects")
    row = _session(engine, store, expired=False)
    assert take_writer(engine, row.id, offset=0, token="writer", lease_s=60)
    # The piece streams on past the session's expiry (no part completed to renew it).
    with new_session(engine) as session:
        session.execute(
            update(UploadSession)
            .where(col(UploadSession.id) == row.id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        session.commit()

    sweep = sweep_uploads(engine, store)

    assert sweep.expired == 0
    assert [key for key, _ in store.iter_staged()] == [row.staged_key]

"""Upload sessions in the asset store: take a session's writer lease, record its parts, expire it.

Every change to a session's bytes goes through the writer lease: a
compare-and-set on the session's ``offset`` and a free (or lapsed)
``writer``, one UPDATE that PostgreSQL and SQLite both run atomically. The
holder of the lease is the only one that writes parts, and it commits its
progress with its token in the WHERE clause, so a lease that lapsed and was
taken over never lets a stale writer move the offset.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, Executable, delete, func, update
from sqlmodel import Session, col, select

from core.logs import get_logger
from models.db import transact
from models.tables import IngestJob, JobStatus, UploadSession, UploadStatus, utcnow
from storage.base import ObjectStore, StagedPart

logger = get_logger("models.uploads")


@dataclass
class Progress:
    """What a writer has made durable: the offset, the parts and the pending tail."""

    offset: int
    parts: list[StagedPart] = field(default_factory=list)
    tail: bytes = b""


def parts_of(session: UploadSession) -> list[StagedPart]:
    """Return the session's parts as the store takes them."""
    return [StagedPart(p["number"], p["etag"], p["size"]) for p in session.parts]


def _parts_json(parts: list[StagedPart]) -> list[dict[str, Any]]:
    return [{"number": p.number, "etag": p.etag, "size": p.size} for p in parts]


def take_writer(
    engine: Engine,
    session_id: uuid.UUID,
    *,
    offset: int,
    token: str,
    lease_s: float,
    expired_too: bool = False,
) -> bool:
    """Lease an open session at ``offset`` to ``token``; return False when it is not to be had.

    Not to be had: the offset moved, another writer holds a live lease, the
    session is finished, or (unless ``expired_too``) expired. The caller reads
    the row to say which.
    """
    now = utcnow()
    expiry = col(UploadSession.expires_at) > now
    statement = (
        update(UploadSession)
        .where(
            col(UploadSession.id) == session_id,
            col(UploadSession.status) == UploadStatus.OPEN,
            col(UploadSession.offset) == offset,
            expiry if not expired_too else col(UploadSession.expires_at).is_not(None),
            (col(UploadSession.writer).is_(None)) | (col(UploadSession.writer_until) < now),
        )
        .values(writer=token, writer_until=now + timedelta(seconds=lease_s))
    )
    rowcount = transact(
        engine,
        lambda session: session.execute(statement).rowcount,  # type: ignore[attr-defined]
        describe="taking an upload session's writer lease",
    )
    return bool(rowcount)


def record_progress(
    engine: Engine,
    session_id: uuid.UUID,
    *,
    token: str,
    progress: Progress,
    lease_s: float,
    expiry_s: float,
) -> bool:
    """Commit a writer's progress, renew its lease for ``lease_s`` and the session's expiry.

    Returns False when the lease is no longer this writer's (nothing changes).
    """
    now = utcnow()
    statement = (
        update(UploadSession)
        .where(col(UploadSession.id) == session_id, col(UploadSession.writer) == token)
        .values(
            offset=progress.offset,
            parts=_parts_json(progress.parts),
            tail=progress.tail,
            writer_until=now + timedelta(seconds=lease_s),
            expires_at=now + timedelta(seconds=expiry_s),
            updated_at=now,
        )
    )
    rowcount = transact(
        engine,
        lambda session: session.execute(statement).rowcount,  # type: ignore[attr-defined]
        describe="recording an upload's progress",
    )
    return bool(rowcount)


def renew_writer(engine: Engine, session_id: uuid.UUID, *, token: str, lease_s: float) -> bool:
    """Extend a writer's lease while its piece streams; False when it lost the lease."""
    statement = (
        update(UploadSession)
        .where(col(UploadSession.id) == session_id, col(UploadSession.writer) == token)
        .values(writer_until=utcnow() + timedelta(seconds=lease_s))
    )
    rowcount = transact(
        engine,
        lambda session: session.execute(statement).rowcount,  # type: ignore[attr-defined]
        describe="renewing an upload's writer lease",
    )
    return bool(rowcount)


def release_writer(engine: Engine, session_id: uuid.UUID, *, token: str) -> None:
    """Give the lease back (progress already recorded stays)."""
    statement = (
        update(UploadSession)
        .where(col(UploadSession.id) == session_id, col(UploadSession.writer) == token)
        .values(writer=None, writer_until=None)
    )
    transact(engine, lambda session: session.execute(statement), describe="releasing an upload")


def open_usage(session: Session, key_id: uuid.UUID) -> tuple[int, int]:
    """Return how many open sessions the key has and the bytes they announce."""
    count, size = session.execute(
        select(func.count(), func.coalesce(func.sum(UploadSession.file_size), 0)).where(
            col(UploadSession.key_id) == key_id,
            col(UploadSession.status) == UploadStatus.OPEN,
            col(UploadSession.expires_at) > utcnow(),
        )
    ).one()
    return int(count), int(size)


def _run(statement: Executable) -> Callable[[Session], object]:
    return lambda session: session.execute(statement)


@dataclass(frozen=True)
class UploadSweep:
    """What a sweep of upload sessions did."""

    # Open sessions past their expiry, aborted in the store and forgotten.
    expired: int
    # Finished sessions whose ingest has ended, their staging removed and row forgotten.
    done: int
    # Staged writes in the store that no session names (a process died), aborted.
    strays: int


def sweep_uploads(
    engine: Engine, store: ObjectStore, *, now: datetime | None = None
) -> UploadSweep:
    """Abort expired sessions, forget the ingested ones, abort staged writes nothing names.

    Each session goes in a transaction of its own that first takes it (an
    expired one only if no live writer holds it), so a sweep never pulls the
    bytes from under a request writing them.
    """
    now = now or utcnow()

    def read(session: Session) -> tuple[list[UploadSession], list[UploadSession]]:
        expired = session.exec(
            select(UploadSession).where(
                col(UploadSession.status) == UploadStatus.OPEN,
                col(UploadSession.expires_at) < now,
                (col(UploadSession.writer).is_(None)) | (col(UploadSession.writer_until) < now),
            )
        ).all()
        done = session.exec(
            select(UploadSession)
            .join(IngestJob, col(IngestJob.id) == col(UploadSession.job_id))
            .where(
                col(UploadSession.status) == UploadStatus.FINISHED,
                col(IngestJob.status).in_([JobStatus.COMPLETED, JobStatus.FAILED]),
            )
        ).all()
        return list(expired), list(done)

    expired, done = transact(engine, read, describe="finding upload sessions to sweep")
    for row in [*expired, *done]:
        store.abort_staged(row.staged_key, row.s3_upload_id)
        forget = delete(UploadSession).where(
            col(UploadSession.id) == row.id, col(UploadSession.updated_at) == row.updated_at
        )
        transact(engine, _run(forget), describe="forgetting an upload session")
        logger.info("swept upload session %s (%s)", row.id, row.status)
    # Listed before the rows are read: a session's row is written before its
    # staged write begins, so one listed here has its row in the read below.
    staged = list(store.iter_staged())
    known = set(
        transact(
            engine,
            lambda session: list(session.exec(select(UploadSession.staged_key)).all()),
            describe="reading the staging keys in use",
        )
    )
    strays = 0
    for key, upload_id in staged:
        if key not in known:
            store.abort_staged(key, upload_id)
            strays += 1
    return UploadSweep(expired=len(expired), done=len(done), strays=strays)

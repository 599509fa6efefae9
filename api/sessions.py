"""Upload sessions: a file arriving in pieces, staged in the object store, then ingested.

The one session layer under both upload protocols (the chunked phases of
``POST /assets`` and tus 1.0 at ``/uploads/``); they are thin translations of
HTTP into these calls, and of these errors into their status codes::

    open_session(context, owner=, request=, file_size=, filename=, ...) -> UploadSession
    append(context, session_id, owner=, offset=, body=, sha1=)          -> the new offset
    finish(context, session_id, owner=, sha256=, md5=)                  -> the IngestJob
    settle(context, session_id, owner=, request=)     a form upload's size and fields, at its end
    abort(context, session_id, owner=)
    get(context, session_id, owner=)                                    -> UploadSession

    UploadError                      status: the HTTP status the chunked phases answer
     +-- SessionNotFound             404: no such session, or another key's
     +-- SessionExpired              410: expired (and aborted, or about to be)
     +-- SessionFinished             409: finished: it takes no more bytes
     +-- OffsetMismatch              409: a piece not at the session's offset
     |    +-- SessionBusy            409: another request is writing at that offset
     +-- PieceTooLarge               413: a piece past the announced file size, or a file
     |                                    past ASSETFLOW_UPLOAD_MAX_BYTES
     +-- EmptyUpload                 422: a file of no bytes (an ingest refuses those)
     +-- ChecksumMismatch            422 (tus: 460): a piece or the whole file
     +-- UploadIncomplete            409: finish before every byte is in
     +-- QuotaExceeded               429: the key's open sessions or bytes

Where the bytes go: the store's staged write under ``uploads/<session id>``
(an S3 multipart upload; a file below the filesystem store's root). A piece
is cut into parts of ``part_size`` as it streams in, so this process holds at
most one part of it; a remainder under the store's smallest part (S3: 5 MiB)
waits in the session row's ``tail`` until more arrives or the file is whole.
The row is the truth: a piece counts (``offset`` moves) only when its part is
written and the row committed, in one compare-and-set on the offset.

Concurrency: a request takes the session's writer lease (a compare-and-set on
``offset`` and a free ``writer``) before it writes; a second request at the
same offset gets ``SessionBusy``. A lease left by a dead process lapses after
``WRITER_LEASE_S`` and is renewed while a piece streams.

Finish completes the staged write and starts the ``ingest-asset`` flow on the
source ``upload://<session id>`` (tasks/upload_fetch.py), which reads the
staged object once (hashing sha256 and md5 on the way: the server-side read
that names the object) and moves it under its content key without a second
upload (``ObjectStore.adopt_staged``).
"""

from __future__ import annotations

import functools
import hashlib
import secrets
import time
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import anyio
from sqlalchemy import delete, update
from sqlmodel import Session, col

from api.context import AppContext
from api.ingest import refuse_a_used_identifier, start_ingest
from core.errors import IngestError
from core.requests import AssetRequest
from models.db import new_session, transact
from models.tables import (
    ApiKey,
    IngestJob,
    UploadProtocol,
    UploadSession,
    UploadStatus,
    utcnow,
)
from models.uploads import (
    Progress,
    open_usage,
    parts_of,
    record_progress,
    release_writer,
    renew_writer,
    take_writer,
)
from storage import open_store
from storage.keys import staged_key
from storage.s3 import MAX_PARTS, MIN_PART_BYTES
from tasks.upload_fetch import upload_source

MIB = 1024 * 1024
# Parts are about this size. The tus helper measured the API's peak with bench_upload
# (1 GiB, SeaweedFS): 231 MiB with 50 MiB parts, 195 MiB with 10 MiB parts, from 178 at rest.
PART_TARGET_BYTES = 10 * MIB

# A writer's lease on a session: renewed every third of it while a piece streams;
# a process that died mid-piece holds the session at most this long.
WRITER_LEASE_S = 60.0


class UploadError(Exception):
    """A request an upload session refuses: the sentence, and the status it answers."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class SessionNotFound(UploadError):
    """No such session, or one another key opened."""

    status = 404


class SessionExpired(UploadError):
    """The session expired; its bytes are (or are about to be) gone."""

    status = 410


class SessionFinished(UploadError):
    """The session is finished: it takes no more bytes and cannot be aborted."""

    status = 409


class OffsetMismatch(UploadError):
    """A piece that does not start at the session's offset; ``expected_offset`` says where."""

    status = 409

    def __init__(self, message: str, *, expected_offset: int) -> None:
        super().__init__(message)
        self.expected_offset = expected_offset


class SessionBusy(OffsetMismatch):
    """Another request is writing a piece at this offset right now."""


class PieceTooLarge(UploadError):
    """A piece that would take the file past its announced size."""

    status = 413


class EmptyUpload(UploadError):
    """A file of no bytes: there would be nothing to ingest."""

    status = 422


class ChecksumMismatch(UploadError):
    """A piece's sha1, or the whole file's sha256 or md5, is not what the client said."""

    status = 422


class UploadIncomplete(UploadError):
    """A finish before every byte is in; the session stays open at ``offset``."""

    status = 409

    def __init__(self, message: str, *, offset: int, file_size: int) -> None:
        super().__init__(message)
        self.offset = offset
        self.file_size = file_size


class QuotaExceeded(UploadError):
    """The key has too many open sessions, or they announce too many bytes."""

    status = 429


async def open_session(
    context: AppContext,
    *,
    owner: uuid.UUID,
    request: AssetRequest,
    file_size: int,
    filename: str,
    content_type: str | None,
    protocol: UploadProtocol,
    tus_metadata: str | None = None,
) -> UploadSession:
    """Open a session for ``file_size`` bytes and start its staged write; return its row.

    ``owner`` is the id of the API key: only it may use the session. The
    request's ``source`` is replaced by the session's own, and an empty
    identifier becomes that source. Raises ``EmptyUpload`` for no bytes,
    ``PieceTooLarge`` past
    ``upload_max_bytes``, ``QuotaExceeded`` past the key's quota, ``ApiError``
    409 for an identifier the project holds.
    """
    return await anyio.to_thread.run_sync(
        functools.partial(
            _open,
            context,
            owner=owner,
            request=request,
            file_size=file_size,
            filename=filename,
            content_type=content_type,
            protocol=protocol,
            tus_metadata=tus_metadata,
        )
    )


def _open(
    context: AppContext,
    *,
    owner: uuid.UUID,
    request: AssetRequest,
    file_size: int,
    filename: str,
    content_type: str | None,
    protocol: UploadProtocol,
    tus_metadata: str | None,
) -> UploadSession:
    settings = context.settings
    limit = settings.upload_max_bytes
    if file_size > limit:
        raise PieceTooLarge(f"the file of {file_size} bytes is larger than the limit of {limit}")
    if file_size < 1:
        raise EmptyUpload("the file is empty: there is nothing to ingest")
    session_id = uuid.uuid4()
    source = upload_source(session_id, filename)
    request = request.model_copy(
        update={
            "source": source,
            "identifier": request.identifier or source,
            "filename": request.filename or filename,
        }
    )
    refuse_a_used_identifier(context.engine, request)
    store = open_store(settings)
    now = utcnow()
    row = UploadSession(
        id=session_id,
        key_id=owner,
        protocol=protocol,
        request=request.model_dump(mode="json"),
        filename=filename,
        content_type=content_type,
        tus_metadata=tus_metadata,
        file_size=file_size,
        backend=store.backend,
        bucket=store.bucket,
        staged_key=staged_key(str(session_id)),
        part_size=_part_size(settings.upload_chunk_bytes, file_size),
        expires_at=now + timedelta(seconds=settings.upload_expiry_s),
        created_at=now,
        updated_at=now,
    )

    def insert(session: Session) -> None:
        # The key's row, locked: two opens by one key count one after the other.
        session.get(ApiKey, owner, with_for_update=True)
        count, size = open_usage(session, owner)
        if count + 1 > settings.upload_max_sessions_per_key:
            raise QuotaExceeded(
                f"this key has {count} uploads open, the most it may have at once: "
                "finish or abort one first"
            )
        if size + file_size > settings.upload_max_open_bytes_per_key:
            raise QuotaExceeded(
                f"this key's open uploads announce {size} bytes; {file_size} more would pass "
                f"its limit of {settings.upload_max_open_bytes_per_key}: finish or abort one first"
            )
        session.add(row)

    # The row first: a staged write is never begun that no row names (gc aborts those).
    transact(context.engine, insert, describe="opening an upload session")
    try:
        upload_id = store.begin_staged(row.staged_key, content_type=content_type)
    except BaseException:
        transact(
            context.engine,
            lambda session: session.execute(
                delete(UploadSession).where(col(UploadSession.id) == session_id)
            ),
            describe="forgetting an upload session that could not start",
        )
        raise
    row.s3_upload_id = upload_id

    def set_upload_id(session: Session) -> None:
        session.execute(
            update(UploadSession)
            .where(col(UploadSession.id) == session_id)
            .values(s3_upload_id=upload_id)
        )

    transact(context.engine, set_upload_id, describe="recording an upload's S3 upload id")
    return row


def _part_size(chunk_bytes: int, file_size: int) -> int:
    """The size of the parts pieces are cut into: the chunk in equal parts of about 10 MiB.

    A 50 MiB chunk is five parts, written as they fill, so an API process holds
    one part of an upload, not a whole chunk. More for a file that would need
    more than S3's 10 000 parts.
    """
    needed = -(-file_size // MAX_PARTS)
    even = chunk_bytes // max(1, chunk_bytes // PART_TARGET_BYTES)
    return max(even, MIN_PART_BYTES, -(-needed // MIB) * MIB)


async def append(
    context: AppContext,
    session_id: uuid.UUID,
    *,
    owner: uuid.UUID,
    offset: int,
    body: AsyncIterator[bytes],
    sha1: str | None = None,
    keep_partial: bool = True,
) -> int:
    """Write the piece streamed by ``body`` at ``offset``; return the session's new offset.

    Pieces of any size are taken. With ``keep_partial`` and no ``sha1``, a
    piece cut short (the client went away) keeps every byte that arrived, and
    the client resumes from the offset ``get`` reports (tus). Without
    ``keep_partial``, or with ``sha1`` (hex), the piece counts only whole (and
    matching: ``ChecksumMismatch`` otherwise), and the offset stays where it
    was (the chunked phases). Raises ``OffsetMismatch`` (or ``SessionBusy``)
    for a piece not at the offset, ``PieceTooLarge`` past the file size,
    ``SessionNotFound``, ``SessionExpired``, ``SessionFinished``. A body that
    breaks off raises what it raised, after keeping what may be kept.
    """
    row = await get(context, session_id, owner=owner)
    token = secrets.token_hex(16)
    taken = await anyio.to_thread.run_sync(
        functools.partial(
            take_writer,
            context.engine,
            session_id,
            offset=offset,
            token=token,
            lease_s=WRITER_LEASE_S,
        )
    )
    if not taken:
        raise await _why_not_taken(context, session_id, owner=owner, offset=offset)
    row = await get(context, session_id, owner=owner)
    writer = _PieceWriter(
        context,
        row,
        token=token,
        keep_partial=keep_partial and sha1 is None,
    )
    try:
        new_offset = await writer.write(body, sha1=sha1)
    finally:
        await anyio.to_thread.run_sync(
            functools.partial(release_writer, context.engine, session_id, token=token)
        )
    return new_offset


async def _why_not_taken(
    context: AppContext, session_id: uuid.UUID, *, owner: uuid.UUID, offset: int
) -> UploadError:
    """Say why a session could not be leased at ``offset``."""
    row = await get(context, session_id, owner=owner)
    if row.status == UploadStatus.FINISHED:
        return SessionFinished("the upload is finished: it takes no more bytes")
    if row.offset != offset:
        return OffsetMismatch(
            f"the upload is at offset {row.offset}, not {offset}: send the bytes from "
            f"{row.offset} on",
            expected_offset=row.offset,
        )
    return SessionBusy(
        f"another request is writing at offset {offset} of this upload: wait for it, then "
        "ask for the offset again",
        expected_offset=row.offset,
    )


class _PieceWriter:
    """One piece on its way into the store: cut into parts, the session's row kept in step."""

    def __init__(
        self, context: AppContext, row: UploadSession, *, token: str, keep_partial: bool
    ) -> None:
        self.context = context
        self.row = row
        self.token = token
        self.keep_partial = keep_partial
        self.store = open_store(context.settings)
        # The durable state, and the bytes after it not yet written: the row's tail first.
        self.done = Progress(offset=row.offset - len(row.tail), parts=parts_of(row))
        # The part being filled: allocated once at its full size (as much of the file as
        # can still come, at most a part) and filled in place, reused part after part.
        self.part = bytearray()
        self.filled = 0
        self._fresh_part()
        self.part[: len(row.tail)] = row.tail
        self.filled = len(row.tail)
        self.renewed = time.monotonic()

    @property
    def offset(self) -> int:
        return self.done.offset + self.filled

    def _fresh_part(self) -> None:
        size = min(self.row.part_size, self.row.file_size - self.done.offset)
        if len(self.part) != size:
            self.part = bytearray(size)  # a new one: the last may still be referred to
        self.filled = 0

    async def write(self, body: AsyncIterator[bytes], *, sha1: str | None) -> int:
        """Stream ``body`` in; return the offset once the piece is durable."""
        digest = hashlib.sha1() if sha1 is not None else None  # noqa: S324 - tus's checksum
        part_size = self.row.part_size
        try:
            async for chunk in body:
                if self.offset + len(chunk) > self.row.file_size:
                    raise PieceTooLarge(
                        f"the piece goes past the file's announced size of {self.row.file_size} "
                        "bytes"
                    )
                if digest is not None:
                    digest.update(chunk)
                view = memoryview(chunk)
                while view:
                    take = min(len(view), len(self.part) - self.filled)
                    self.part[self.filled : self.filled + take] = view[:take]
                    self.filled += take
                    view = view[take:]
                    if self.filled == part_size:
                        await self._write_part()
                await self._renew_now_and_then()
        except (UploadError, IngestError):
            raise  # refused, or the store or database failed: nothing more to keep
        except BaseException:
            # The body broke off: keep what arrived, if whole parts need not be whole pieces.
            if self.keep_partial:
                await self._save(final=False)
            raise
        if digest is not None and digest.hexdigest() != sha1.lower():  # type: ignore[union-attr]
            raise ChecksumMismatch(
                f"the piece's sha1 is {digest.hexdigest()}, not {sha1}: it was not kept"
            )
        await self._save(final=self.offset == self.row.file_size)
        return self.offset

    async def _write_part(self) -> None:
        """Write the bytes filled as the next part; record it when partial progress counts."""
        part = await anyio.to_thread.run_sync(
            functools.partial(
                self.store.write_staged_part,
                self.row.staged_key,
                self.row.s3_upload_id,
                number=len(self.done.parts) + 1,
                offset=self.done.offset,
                # A view, not a copy: the store sends it as it is.
                data=memoryview(self.part)[: self.filled],
            )
        )
        self.done.parts.append(part)
        self.done.offset += part.size
        self._fresh_part()
        if self.keep_partial:
            await self._record()

    async def _save(self, *, final: bool) -> None:
        """Make everything received durable: a part when it may be one, else the row's tail."""
        if self.filled and (final or self.filled >= self.store.min_part_bytes):
            await self._write_part()
        await self._record()

    async def _record(self) -> None:
        """Commit the offset, the parts and the tail; renew the lease and the expiry."""
        progress = Progress(self.offset, self.done.parts, bytes(self.part[: self.filled]))
        recorded = await anyio.to_thread.run_sync(
            functools.partial(
                record_progress,
                self.context.engine,
                self.row.id,
                token=self.token,
                progress=progress,
                lease_s=WRITER_LEASE_S,
                expiry_s=self.context.settings.upload_expiry_s,
            )
        )
        if not recorded:
            raise SessionBusy(
                "this request's hold on the upload lapsed and another took it: ask for the "
                "offset again",
                expected_offset=self.done.offset,
            )
        self.renewed = time.monotonic()

    async def _renew_now_and_then(self) -> None:
        if time.monotonic() - self.renewed < WRITER_LEASE_S / 3:
            return
        renewed = await anyio.to_thread.run_sync(
            functools.partial(
                renew_writer,
                self.context.engine,
                self.row.id,
                token=self.token,
                lease_s=WRITER_LEASE_S,
            )
        )
        if not renewed:
            raise SessionBusy(
                "this request's hold on the upload lapsed and another took it",
                expected_offset=self.done.offset,
            )
        self.renewed = time.monotonic()


async def finish(
    context: AppContext,
    session_id: uuid.UUID,
    *,
    owner: uuid.UUID,
    sha256: str | None = None,
    md5: str | None = None,
) -> IngestJob:
    """Close the session and start the ingest of its bytes; return the job.

    Raises ``UploadIncomplete`` (the session stays open) while bytes are
    missing. A ``sha256`` or ``md5`` (hex) given is checked by the ingest as
    it reads the staged bytes (the one read it makes anyway): a mismatch
    fails the task with a sentence saying so and stores nothing. A second
    finish returns the same job.
    """
    row = await get(context, session_id, owner=owner)
    if row.status == UploadStatus.FINISHED and row.job_id is not None:
        return await anyio.to_thread.run_sync(_job, context, row.job_id)
    if row.offset < row.file_size:
        raise UploadIncomplete(
            f"the upload has {row.offset} of its {row.file_size} bytes: send the bytes from "
            f"{row.offset} on, then finish",
            offset=row.offset,
            file_size=row.file_size,
        )
    token = secrets.token_hex(16)
    taken = await anyio.to_thread.run_sync(
        functools.partial(
            take_writer,
            context.engine,
            session_id,
            offset=row.offset,
            token=token,
            lease_s=WRITER_LEASE_S,
        )
    )
    if not taken:
        raise await _why_not_taken(context, session_id, owner=owner, offset=row.offset)
    try:
        return await anyio.to_thread.run_sync(
            functools.partial(_finish, context, row, token=token, sha256=sha256, md5=md5)
        )
    finally:
        await anyio.to_thread.run_sync(
            functools.partial(release_writer, context.engine, session_id, token=token)
        )


def _finish(
    context: AppContext, row: UploadSession, *, token: str, sha256: str | None, md5: str | None
) -> IngestJob:
    store = open_store(context.settings)
    parts = parts_of(row)
    if row.tail:
        # Only a form upload ends on a tail: its size was not known while it streamed.
        parts.append(
            store.write_staged_part(
                row.staged_key,
                row.s3_upload_id,
                number=len(parts) + 1,
                offset=row.offset - len(row.tail),
                data=row.tail,
            )
        )
        record_progress(
            context.engine,
            row.id,
            token=token,
            progress=Progress(row.offset, parts),
            lease_s=WRITER_LEASE_S,
            expiry_s=context.settings.upload_expiry_s,
        )
    store.complete_staged(row.staged_key, row.s3_upload_id, parts)
    request = AssetRequest.model_validate(row.request).model_copy(
        update={"source": upload_source(row.id, row.filename, sha256=sha256, md5=md5)}
    )
    # Keyed by the session: a finish that died after this wrote the job finds it again.
    job = start_ingest(context, request, idempotency_key=f"upload:{row.id}")

    def close(session: Session) -> None:
        session.execute(
            update(UploadSession)
            .where(col(UploadSession.id) == row.id, col(UploadSession.writer) == token)
            .values(status=UploadStatus.FINISHED, job_id=job.id, updated_at=utcnow())
        )

    transact(context.engine, close, describe="closing an upload session")
    return job


def _job(context: AppContext, job_id: uuid.UUID) -> IngestJob:
    with new_session(context.engine) as session:
        return session.get_one(IngestJob, job_id)


async def settle(
    context: AppContext,
    session_id: uuid.UUID,
    *,
    owner: uuid.UUID,
    request: AssetRequest,
) -> UploadSession:
    """Make the bytes an open session holds its whole file, and ``request`` its metadata.

    For a form upload, whose size is only bounded (by Content-Length) until
    its body has ended, and whose later fields arrive after the file.
    """
    row = await get(context, session_id, owner=owner)
    update_request = request.model_copy(
        update={
            "source": row.request["source"],
            "identifier": request.identifier or row.request["identifier"],
            "filename": request.filename or row.filename,
        }
    )

    def write(session: Session) -> None:
        session.execute(
            update(UploadSession)
            .where(
                col(UploadSession.id) == session_id,
                col(UploadSession.status) == UploadStatus.OPEN,
            )
            .values(
                file_size=col(UploadSession.offset),
                request=update_request.model_dump(mode="json"),
                updated_at=utcnow(),
            )
        )

    await anyio.to_thread.run_sync(
        functools.partial(transact, context.engine, write, describe="settling a form upload")
    )
    return await get(context, session_id, owner=owner)


async def abort(context: AppContext, session_id: uuid.UUID, *, owner: uuid.UUID) -> None:
    """Abort an open session: its staged bytes and its row go.

    Raises ``SessionFinished`` for a finished one, ``SessionBusy`` while a
    piece is being written, ``SessionNotFound``.
    """
    row = await get(context, session_id, owner=owner, expired_too=True)
    token = secrets.token_hex(16)
    taken = await anyio.to_thread.run_sync(
        functools.partial(
            take_writer,
            context.engine,
            session_id,
            offset=row.offset,
            token=token,
            lease_s=WRITER_LEASE_S,
            expired_too=True,
        )
    )
    if not taken:
        raise await _why_not_taken(context, session_id, owner=owner, offset=row.offset)
    store = open_store(context.settings)
    await anyio.to_thread.run_sync(store.abort_staged, row.staged_key, row.s3_upload_id)
    await anyio.to_thread.run_sync(
        functools.partial(
            transact,
            context.engine,
            lambda session: session.execute(
                delete(UploadSession).where(col(UploadSession.id) == session_id)
            ),
            describe="forgetting an aborted upload",
        )
    )


async def get(
    context: AppContext, session_id: uuid.UUID, *, owner: uuid.UUID, expired_too: bool = False
) -> UploadSession:
    """Return the session's row as it stands (``offset``, ``file_size``, ``expires_at`` ...).

    Raises ``SessionNotFound``, ``SessionExpired`` (an open one past its
    expiry, unless ``expired_too``).
    """
    row = await anyio.to_thread.run_sync(_read, context, session_id)
    if row is None or row.key_id != owner:
        raise SessionNotFound("upload not found")
    if not expired_too and row.status == UploadStatus.OPEN and row.expires_at <= utcnow():
        raise SessionExpired("the upload expired: its bytes are gone; start it again")
    return row


def _read(context: AppContext, session_id: uuid.UUID) -> UploadSession | None:
    with new_session(context.engine) as session:
        return session.get(UploadSession, session_id)

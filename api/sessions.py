"""Upload sessions: a file arriving in pieces, staged in the object store, then ingested.

The one session layer under both upload protocols (the chunked phases of
``POST /assets`` and tus 1.0 at ``/uploads/``); they are thin translations of
HTTP into these calls, and of these errors into their status codes::

    open_session(context, owner=, request=, file_size=, filename=, ...) -> UploadSession
    append(context, session_id, owner=, offset=, body=, sha1=)          -> the new offset
    finish(context, session_id, owner=, sha256=, md5=)                  -> the IngestJob
    abort(context, session_id, owner=)
    get(context, session_id, owner=)                                    -> UploadSession

    UploadError                      status: the HTTP status the chunked phases answer
     +-- SessionNotFound             404: no such session, or another key's
     +-- SessionExpired              410: expired (and aborted, or about to be)
     +-- SessionFinished             409: finished: it takes no more bytes
     +-- OffsetMismatch              409: a piece not at the session's offset
     |    +-- SessionBusy            409: another request is writing at that offset
     +-- PieceTooLarge               413: a piece past the announced file size
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

import uuid
from collections.abc import AsyncIterator

from api.context import AppContext
from core.requests import AssetRequest
from models.tables import IngestJob, UploadProtocol, UploadSession

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


def upload_source(session_id: uuid.UUID) -> str:
    """Name an upload session as an ingest source (``upload://<id>``)."""
    return f"upload://{session_id}"


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
    request's ``source`` is replaced by the session's own. Raises
    ``PieceTooLarge`` past ``upload_max_bytes``, ``QuotaExceeded`` past the
    key's quota, ``ApiError`` 409 for an identifier the project holds.
    """
    raise NotImplementedError


async def append(
    context: AppContext,
    session_id: uuid.UUID,
    *,
    owner: uuid.UUID,
    offset: int,
    body: AsyncIterator[bytes],
    sha1: str | None = None,
) -> int:
    """Write the piece streamed by ``body`` at ``offset``; return the session's new offset.

    Pieces of any size are taken. Without ``sha1`` the offset moves as each
    part is written, so a piece cut short keeps what arrived in whole parts
    (and the client resumes from the offset ``get`` reports); with ``sha1``
    (hex) the piece counts only whole and matching, otherwise
    ``ChecksumMismatch`` and the offset stays. Raises ``OffsetMismatch`` (or
    ``SessionBusy``) for a piece not at the offset, ``PieceTooLarge`` past the
    file size, ``SessionNotFound``, ``SessionExpired``, ``SessionFinished``.
    A body that breaks off (the client went away) raises what it raised,
    after the whole parts are kept.
    """
    raise NotImplementedError


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
    raise NotImplementedError


async def abort(context: AppContext, session_id: uuid.UUID, *, owner: uuid.UUID) -> None:
    """Abort an open session: its staged bytes and its row go.

    Raises ``SessionFinished`` for a finished one, ``SessionNotFound``.
    """
    raise NotImplementedError


async def get(context: AppContext, session_id: uuid.UUID, *, owner: uuid.UUID) -> UploadSession:
    """Return the session's row as it stands (``offset``, ``file_size``, ``expires_at`` ...).

    Raises ``SessionNotFound``, ``SessionExpired``.
    """
    raise NotImplementedError

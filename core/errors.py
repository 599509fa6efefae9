"""The one error tree of assetflow.

Adapters (httpx, minio, ffmpeg, yt-dlp, Pillow) translate third-party
exceptions at the boundary into the most specific type here, with
``raise ... from exc``. Prefect's retries are driven by the split between
transient and permanent (see ``is_transient``), never by catching ``Exception``.

    IngestError
    ├── TransientError          worth retrying: the same call may succeed later
    │   ├── SourceUnavailable   connect error, timeout, 5xx, 408, 429, truncated body
    │   └── StorageUnavailable  the object store could not be reached
    │       └── DatabaseUnavailable  the asset store (database) could not be reached
    └── PermanentError          retrying cannot help; the message says what to fix
        ├── InvalidSource       malformed URL, unsupported scheme, too many redirects
        ├── ForbiddenSource     private/reserved address, path outside the roots, 401/403
        ├── SourceNotFound      404/410, missing file or object
        ├── SourceTooLarge      larger than the configured maximum
        ├── CorruptUpload       uploaded bytes whose checksum is not the client's
        ├── EmptySource         zero bytes
        ├── UnsupportedMedia    bytes of a kind assetflow cannot process
        ├── CorruptMedia        bytes that claim a format but do not decode
        ├── MediaTimeout        a media tool exceeded its time limit
        └── IdentifierConflict  the identifier is already used in the project
"""

from __future__ import annotations

import uuid


class IngestError(Exception):
    """Base of every error assetflow raises on purpose."""


class TransientError(IngestError):
    """A failure that the same call may not meet again: retry it."""

    def __init__(
        self, message: str, *, retry_after: float | None = None, outlasted: bool = False
    ) -> None:
        super().__init__(message)
        # Seconds the remote asked us to wait (HTTP Retry-After), if it said.
        self.retry_after = retry_after
        # True once an outage outlasted the window it was ridden out for
        # (core/outage.py): trying again at once cannot help, a later run may.
        self.outlasted = outlasted


class SourceUnavailable(TransientError):
    """The source could not be read just now (network, timeout, 5xx, 429)."""


class StorageUnavailable(TransientError):
    """The object store could not be reached."""


class DatabaseUnavailable(StorageUnavailable):
    """The asset store's database could not be reached, or dropped the connection."""


class PermanentError(IngestError):
    """A failure that retrying cannot mend."""


class InvalidSource(PermanentError):
    """The source string is not something assetflow can fetch."""


class ForbiddenSource(PermanentError):
    """The source is refused: a private address, or the remote said 401/403."""


class SourceNotFound(PermanentError):
    """Nothing exists at the source."""


class SourceTooLarge(PermanentError):
    """The source is larger than the configured maximum."""


class CorruptUpload(PermanentError):
    """Uploaded bytes whose checksum is not the one their client gave."""


class EmptySource(PermanentError):
    """The source holds zero bytes."""


class UnsupportedMedia(PermanentError):
    """The bytes are of a kind assetflow cannot process."""


class CorruptMedia(PermanentError):
    """The bytes claim a format but do not decode."""


class MediaTimeout(PermanentError):
    """A media tool ran longer than its time limit."""


class IdentifierConflict(PermanentError):
    """The identifier is already taken in its project."""

    def __init__(self, message: str, *, existing_id: uuid.UUID | None = None) -> None:
        super().__init__(message)
        # The id of the asset that holds the identifier, for "already ingested as ...".
        self.existing_id = existing_id


def is_transient(exc: BaseException) -> bool:
    """Tell whether a failure is worth another try (an outage already ridden out is not)."""
    return isinstance(exc, TransientError) and not exc.outlasted

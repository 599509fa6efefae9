"""The object-store interface that both backends implement.

Storage never imports Prefect and never reads a whole object into memory.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO


@dataclass(frozen=True)
class ObjectInfo:
    """What the store knows of one stored object."""

    key: str
    size: int
    content_type: str | None
    # When the object was written, where the listing says (timezone-aware).
    modified: datetime | None = None


@dataclass(frozen=True)
class PutResult:
    """The outcome of a put: where the bytes live and whether this call uploaded them."""

    backend: str
    bucket: str
    key: str
    size: int
    uploaded: bool


@dataclass(frozen=True)
class StagedPart:
    """One part of a staged write, as written: its number (from 1), S3 ETag and size."""

    number: int
    etag: str
    size: int


class ObjectStore(abc.ABC):
    """A flat namespace of immutable objects under string keys.

    Beside it, staged writes: an object written in parts over time (an upload
    session), under a staging key (``storage.keys.staged_key``), invisible to
    ``iter_keys`` of content, until it is completed and adopted under its
    content key, or aborted.
    """

    #: "file" or "s3": recorded on the file set so a reader knows where to look.
    backend: str
    #: The bucket (S3) or root directory (filesystem) the keys live in.
    bucket: str

    #: The smallest part a staged write takes, but for its last (S3: 5 MiB).
    min_part_bytes: int = 1

    @abc.abstractmethod
    def put_file(self, key: str, path: Path, *, content_type: str | None = None) -> PutResult:
        """Store the file at ``path`` under ``key`` unless that key already exists.

        Idempotent: content keys name their bytes, so an existing key is not
        uploaded again (``uploaded`` is False). A partial write is never visible
        under ``key``.
        """

    @abc.abstractmethod
    def stat(self, key: str) -> ObjectInfo | None:
        """Describe the object under ``key``, or None when there is none."""

    def exists(self, key: str) -> bool:
        """Tell whether an object is stored under ``key``."""
        return self.stat(key) is not None

    @abc.abstractmethod
    def open(self, key: str) -> BinaryIO:
        """Open the object for streaming reads; the caller closes it.

        Raises ``SourceNotFound`` when there is no such object.
        """

    @abc.abstractmethod
    def download(self, key: str, path: Path) -> None:
        """Copy the object to a local file, streaming."""

    @abc.abstractmethod
    def locate(self, key: str, *, expires_s: int = 3600) -> str:
        """Return where a reader can get the object: a presigned GET URL (S3) or a path."""

    @abc.abstractmethod
    def delete(self, key: str) -> None:
        """Remove the object; removing a missing key is not an error."""

    @abc.abstractmethod
    def iter_keys(self, prefix: str = "") -> Iterator[str]:
        """Yield the keys that start with ``prefix``, in key order, lazily."""

    @abc.abstractmethod
    def iter_objects(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Yield the objects whose keys start with ``prefix``, with size and time, lazily."""

    @abc.abstractmethod
    def begin_staged(self, key: str, *, content_type: str | None) -> str | None:
        """Start a staged write under ``key``; return its S3 upload id (None on a filesystem)."""

    @abc.abstractmethod
    def write_staged_part(
        self,
        key: str,
        upload_id: str | None,
        *,
        number: int,
        offset: int,
        data: bytes | bytearray | memoryview,
    ) -> StagedPart:
        """Write part ``number``, the bytes from ``offset`` on, durably; return it as written.

        Writing a number again replaces that part (and, on a filesystem, drops
        whatever lay past ``offset``). Parts but the last must hold at least
        ``min_part_bytes``.
        """

    @abc.abstractmethod
    def complete_staged(self, key: str, upload_id: str | None, parts: Sequence[StagedPart]) -> None:
        """Join the parts (at least one), in order, into the staged object ``key``.

        Completing it again is not an error.
        """

    @abc.abstractmethod
    def abort_staged(self, key: str, upload_id: str | None) -> None:
        """Drop a staged write and its parts, or the completed staged object; idempotent."""

    @abc.abstractmethod
    def open_staged(self, key: str) -> BinaryIO:
        """Open a completed staged object for streaming reads; the caller closes it.

        Raises ``SourceNotFound`` when there is none.
        """

    @abc.abstractmethod
    def adopt_staged(self, staged_key: str, key: str, *, content_type: str | None) -> PutResult:
        """Move a completed staged object under ``key`` and out of staging.

        No bytes pass through this process: a rename on a filesystem, a
        server-side copy on S3. When ``key`` exists already, the staged object
        is only removed (``uploaded`` False).
        """

    @abc.abstractmethod
    def iter_staged(self) -> Iterator[tuple[str, str | None]]:
        """Yield (staging key, upload id) of every staged write not yet completed or aborted."""

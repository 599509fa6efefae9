"""The object-store interface that both backends implement.

Storage never imports Prefect and never reads a whole object into memory.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator
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


class ObjectStore(abc.ABC):
    """A flat namespace of immutable objects under string keys."""

    #: "file" or "s3": recorded on the file set so a reader knows where to look.
    backend: str
    #: The bucket (S3) or root directory (filesystem) the keys live in.
    bucket: str

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

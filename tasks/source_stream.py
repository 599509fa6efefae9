"""What every source opener hands back: the bytes as chunks, and what the source says of them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from core.settings import Settings


@dataclass(frozen=True)
class SourceStream:
    """An open source: its bytes as an iterator of chunks plus its declared metadata.

    ``size`` is what the source announced (Content-Length, stat, S3 size), or
    None; the spool enforces the real count. ``content_type`` is untrusted.
    ``filename`` is already sanitised (see ``tasks.filenames``).
    """

    chunks: Iterator[bytes]
    size: int | None
    content_type: str | None
    filename: str | None


class SourceOpener(Protocol):
    """Opens one kind of source; closing the context releases its connection or file."""

    def __call__(
        self, source: str, /, *, settings: Settings
    ) -> AbstractContextManager[SourceStream]: ...

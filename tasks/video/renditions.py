"""A derived file on disk, described well enough to store it content-addressed."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

_HASH_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Rendition:
    """One derived file: where it is, what it is, and its bytes' identity."""

    path: Path
    content_type: str
    width: int
    height: int
    duration_s: float | None  # None for still images
    size_bytes: int
    sha256: str


def describe_file(
    path: Path, *, content_type: str, width: int, height: int, duration_s: float | None = None
) -> Rendition:
    """Hash and measure `path` into a Rendition."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_HASH_CHUNK):
            digest.update(chunk)
    return Rendition(
        path=path,
        content_type=content_type,
        width=width,
        height=height,
        duration_s=duration_s,
        size_bytes=path.stat().st_size,
        sha256=digest.hexdigest(),
    )

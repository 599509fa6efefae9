"""Digests of local files, computed in one streaming pass."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

CHUNK_BYTES = 1024 * 1024


@dataclass(frozen=True)
class FileDigest:
    """The identity of some bytes: their sha256, md5 and length."""

    sha256: str
    md5: str
    size: int


def digest_file(path: Path) -> FileDigest:
    """Hash a file with sha256 and md5 in one pass, never holding it whole in memory."""
    with path.open("rb") as stream:
        return digest_stream(stream)


def digest_stream(stream: BinaryIO, *, copy_to: BinaryIO | None = None) -> FileDigest:
    """Hash a stream to its end with sha256 and md5 in one pass, a chunk at a time.

    ``copy_to`` also receives every chunk (one read both hashes and copies).
    """
    sha256 = hashlib.sha256()
    md5 = hashlib.md5()  # noqa: S324 - an S3-style checksum, not a security hash
    size = 0
    while chunk := stream.read(CHUNK_BYTES):
        sha256.update(chunk)
        md5.update(chunk)
        size += len(chunk)
        if copy_to is not None:
            copy_to.write(chunk)
    return FileDigest(sha256=sha256.hexdigest(), md5=md5.hexdigest(), size=size)

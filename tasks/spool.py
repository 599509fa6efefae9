"""Stream bytes into a file while hashing and counting them, in one pass."""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from core.errors import EmptySource, SourceTooLarge
from storage.digest import FileDigest

# Big enough that per-chunk Python overhead vanishes next to hashing, small
# enough that memory stays flat whatever the source size.
CHUNK_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Spooled:
    """A file written by ``spool`` and the digest of its bytes."""

    path: Path
    digest: FileDigest


def too_large(label: str, max_bytes: int, size: int | None = None) -> SourceTooLarge:
    """Build the error for a source over the limit (``size`` when it is known up front)."""
    known = "" if size is None else f" ({size} bytes)"
    return SourceTooLarge(
        f"{label}{known} is over the limit of {max_bytes} bytes (ASSETFLOW_MAX_SOURCE_BYTES)"
    )


def spool(
    chunks: Iterable[bytes], *, dest_dir: Path, max_bytes: int, label: str, suffix: str = ""
) -> Spooled:
    """Write ``chunks`` to ``dest_dir/<sha256><suffix>``, hashing sha256 and md5 on the way.

    The bytes go to a hidden temporary file first, which is removed on any
    failure (including the size limit and an error raised by ``chunks``), and
    renamed into place only when complete. ``label`` names the source in
    errors and must already be redacted.
    """
    dest_dir.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(dir=dest_dir, prefix=".fetch-", suffix=".part")
    temp = Path(temp_name)
    try:
        sha256 = hashlib.sha256()
        md5 = hashlib.md5(usedforsecurity=False)  # the S3 ETag-style checksum
        size = 0
        with os.fdopen(fd, "wb") as out, ThreadPoolExecutor(2, "spool") as workers:
            # Pipelined: while the caller's iterator reads chunk n+1 (network
            # parsing holds the GIL), one worker md5s chunk n and the other
            # sha256s and writes it; hashlib and write release the GIL. At most
            # two chunks are alive at once.
            pending: list[Future[object]] = []
            for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise too_large(label, max_bytes)
                for job in pending:
                    job.result()
                pending = [
                    workers.submit(md5.update, chunk),
                    workers.submit(_hash_and_write, sha256, out, chunk),
                ]
            for job in pending:
                job.result()
        if size == 0:
            raise EmptySource(f"{label} is empty (0 bytes)")
        digest = FileDigest(sha256=sha256.hexdigest(), md5=md5.hexdigest(), size=size)
        final = dest_dir / f"{digest.sha256}{suffix}"
        temp.replace(final)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
        raise
    return Spooled(path=final, digest=digest)


def _hash_and_write(sha256: hashlib._Hash, out: BinaryIO, chunk: bytes) -> None:
    sha256.update(chunk)
    out.write(chunk)

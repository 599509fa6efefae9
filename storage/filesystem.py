"""The filesystem backend: objects are files below one root directory."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from stat import S_ISREG
from typing import BinaryIO

from core.errors import SourceNotFound
from storage.base import ObjectInfo, ObjectStore, PutResult, StagedPart
from storage.keys import STAGING_PREFIX

# Copy in 1 MiB pieces: large enough for throughput, small enough to never matter for memory.
COPY_BUFFER_BYTES = 1024 * 1024
# Temp files start with this; keys may not have a segment starting with "." so none collide.
_TEMP_PREFIX = ".partial-"
# Staged writes live below this directory of the root: no key can name it.
_STAGING_DIR = ".staging"


def write_atomically(source: BinaryIO, path: Path, *, durable: bool) -> int:
    """Stream ``source`` into ``path`` via a temp file beside it; return the bytes written.

    Readers see either no file or the whole file under ``path``, never a part.
    ``durable`` fsyncs the file before the rename and its directory after, so a
    stored object survives a crash; scratch downloads skip that cost.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(prefix=_TEMP_PREFIX, dir=path.parent)
    temp = Path(temp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            shutil.copyfileobj(source, out, COPY_BUFFER_BYTES)
            size = out.tell()
            if durable:
                out.flush()
                os.fsync(out.fileno())
        temp.chmod(0o644)  # mkstemp makes 0600 files; objects are meant to be read
        temp.replace(path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    if durable:
        _fsync_dir(path.parent)
    return size


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FilesystemStore(ObjectStore):
    """Objects as files below ``root``; keys are relative paths with ``/`` separators.

    Content types are not kept: ``stat`` always reports ``content_type=None``
    (the asset graph records the type; a sidecar file would be a second thing
    to keep consistent).
    """

    backend = "file"

    def __init__(self, root: Path) -> None:
        self.root = root.expanduser().resolve()
        self.bucket = str(self.root)

    def _path(self, key: str) -> Path:
        """Map ``key`` to its file below the root; raise ValueError if it could escape."""
        segments = key.split("/")
        if (
            not key
            or "\\" in key
            or "\0" in key
            or any(not segment or segment.startswith(".") for segment in segments)
        ):
            raise ValueError(
                f"invalid object key {key!r}: use non-empty '/'-separated segments "
                "that do not start with '.' and contain no backslash"
            )
        return self.root.joinpath(*segments)

    def put_file(self, key: str, path: Path, *, content_type: str | None = None) -> PutResult:
        """Copy ``path`` under ``key`` unless it is there already (``content_type`` is not kept)."""
        target = self._path(key)
        if target.is_file():
            return PutResult(self.backend, self.bucket, key, target.stat().st_size, uploaded=False)
        # Copy rather than link or move: the caller owns (and deletes) its source file.
        with path.open("rb") as source:
            size = write_atomically(source, target, durable=True)
        return PutResult(self.backend, self.bucket, key, size, uploaded=True)

    def stat(self, key: str) -> ObjectInfo | None:
        """Describe the file under ``key`` (size only), or None when there is none."""
        try:
            info = self._path(key).stat()
        except FileNotFoundError:
            return None
        if not S_ISREG(info.st_mode):
            return None
        return ObjectInfo(key=key, size=info.st_size, content_type=None)

    def open(self, key: str) -> BinaryIO:
        """Open the file under ``key`` for reading; raise SourceNotFound when there is none."""
        try:
            return self._path(key).open("rb")
        except (FileNotFoundError, IsADirectoryError) as exc:
            raise SourceNotFound(f"no object {key!r} in the file store at {self.root}") from exc

    def download(self, key: str, path: Path) -> None:
        """Copy the object to ``path``, streaming, replacing ``path`` only once complete."""
        with self.open(key) as source:
            write_atomically(source, path, durable=False)

    def locate(self, key: str, *, expires_s: int = 3600) -> str:
        """Return the absolute path of the file under ``key`` (``expires_s`` does not apply)."""
        return str(self._path(key))

    def delete(self, key: str) -> None:
        """Remove the file under ``key``; a missing one is fine."""
        # Empty directories are left in place: a concurrent put may be about to use them.
        self._path(key).unlink(missing_ok=True)

    def iter_keys(self, prefix: str = "") -> Iterator[str]:
        """Yield the keys starting with ``prefix`` in key order, walking only matching dirs."""
        yield from self._walk(self.root, "", prefix)

    def iter_objects(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Yield the files below the root whose keys start with ``prefix``, with size and mtime."""
        for key in self.iter_keys(prefix):
            try:
                status = self._path(key).stat()
            except FileNotFoundError:
                continue  # deleted since the directory was read
            modified = datetime.fromtimestamp(status.st_mtime, UTC)
            yield ObjectInfo(key=key, size=status.st_size, content_type=None, modified=modified)

    def _walk(self, directory: Path, base: str, prefix: str) -> Iterator[str]:
        try:
            with os.scandir(directory) as scan:
                entries = [entry for entry in scan if not entry.name.startswith(".")]
        except FileNotFoundError:
            return
        # Sorting directories as "name/" makes the walk yield keys in plain string order.
        entries.sort(key=lambda e: e.name + "/" if e.is_dir(follow_symlinks=False) else e.name)
        for entry in entries:
            key = base + entry.name
            if entry.is_dir(follow_symlinks=False):
                below = key + "/"
                if below.startswith(prefix) or prefix.startswith(below):
                    yield from self._walk(Path(entry.path), below, prefix)
            elif key.startswith(prefix):
                yield key

    # Staged writes: one file per staging key below root/.staging, appended to in place.

    def _staged_path(self, key: str) -> Path:
        if not key.startswith(STAGING_PREFIX):
            raise ValueError(f"not a staging key: {key!r}")
        return self.root / _STAGING_DIR / self._path(key).relative_to(self.root)

    def begin_staged(self, key: str, *, content_type: str | None) -> str | None:
        """Create the empty staging file (``content_type`` is not kept)."""
        path = self._staged_path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
        _fsync_dir(path.parent)
        return None

    def write_staged_part(
        self,
        key: str,
        upload_id: str | None,
        *,
        number: int,
        offset: int,
        data: bytes | bytearray | memoryview,
    ) -> StagedPart:
        """Write ``data`` at ``offset`` of the staging file, cutting what lay past it; fsync."""
        path = self._staged_path(key)
        try:
            with path.open("r+b") as out:
                out.truncate(offset)
                out.seek(offset)
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
        except FileNotFoundError as exc:
            raise SourceNotFound(f"no staged upload {key!r} in the file store") from exc
        return StagedPart(number=number, etag="", size=len(data))

    def complete_staged(self, key: str, upload_id: str | None, parts: Sequence[StagedPart]) -> None:
        """Cut the staging file to the parts' length: they are in it already."""
        with self._staged_path(key).open("r+b") as out:
            out.truncate(sum(part.size for part in parts))

    def abort_staged(self, key: str, upload_id: str | None) -> None:
        """Remove the staging file; a missing one is fine."""
        self._staged_path(key).unlink(missing_ok=True)

    def open_staged(self, key: str) -> BinaryIO:
        """Open the staging file for reading."""
        try:
            return self._staged_path(key).open("rb")
        except FileNotFoundError as exc:
            raise SourceNotFound(f"no staged upload {key!r} in the file store") from exc

    def adopt_staged(self, staged_key: str, key: str, *, content_type: str | None) -> PutResult:
        """Rename the staging file to ``key`` (same file system: no copy), or drop it if stored."""
        source = self._staged_path(staged_key)
        target = self._path(key)
        if target.is_file():
            source.unlink(missing_ok=True)
            return PutResult(self.backend, self.bucket, key, target.stat().st_size, uploaded=False)
        target.parent.mkdir(parents=True, exist_ok=True)
        source.chmod(0o644)
        size = source.stat().st_size
        source.replace(target)
        _fsync_dir(target.parent)
        return PutResult(self.backend, self.bucket, key, size, uploaded=True)

    def iter_staged(self) -> Iterator[tuple[str, str | None]]:
        """Yield the staging files' keys (a file store has no upload ids)."""
        base = self.root / _STAGING_DIR
        for path in sorted(base.rglob("*")):
            if path.is_file():
                yield path.relative_to(base).as_posix(), None

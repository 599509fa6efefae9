"""Files in place: read a file where it lies on a configured storage, never copying it.

    place = locate(settings, storage="media", path="clips/a.mxf")   # or ForbiddenSource
    with open_in_place(settings, place) as stream: ...
    digest = digest_in_place(settings, place)                       # streaming

A storage is one the operator configured (``Settings.storages``): an S3
bucket and prefix, or a filesystem root. A registered path is relative to
that root and may not leave it: no absolute path, no empty, '.' or '..'
segment, no backslash or NUL, checked by name for both backends (S3 servers
that map keys onto a filesystem, SeaweedFS's filer among them, would
otherwise resolve '..'); on the filesystem the file is also opened through
descriptors (``tasks.beneath``), refusing every symlink below the root.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from core.errors import CorruptMedia, ForbiddenSource
from core.settings import Settings
from storage import FilesystemStore, ObjectStore, store_at
from storage.digest import FileDigest, digest_stream
from tasks.beneath import default_resolver
from tasks.local_fetch import open_regular_beneath

# Longest registered path: S3's key limit.
MAX_PATH_CHARS = 1024


@dataclass(frozen=True)
class InPlace:
    """A file's place: the configured storage's name, its store, the path below its root."""

    storage: str
    store: ObjectStore
    path: str


def storage_store(settings: Settings, storage: str) -> ObjectStore:
    """Open the configured storage of this name; ForbiddenSource for any other name."""
    url = settings.storages.get(storage)
    if url is None:
        known = ", ".join(sorted(settings.storages)) or "none are configured"
        raise ForbiddenSource(
            f"storage {storage!r} is not configured (ASSETFLOW_STORAGES; known: {known})"
        )
    return store_at(settings, url)


def checked_path(path: str) -> str:
    """Return ``path`` if it names a file below a storage's root; ForbiddenSource if not."""
    segments = path.split("/")
    if (
        not path
        or len(path) > MAX_PATH_CHARS
        or "\\" in path
        or "\0" in path
        or any(segment in ("", ".", "..") for segment in segments)
    ):
        raise ForbiddenSource(
            f"path {path!r} does not stay inside its storage: give it relative to the "
            "storage's root, as '/'-separated names without '.', '..' or empty segments"
        )
    return path


def locate(settings: Settings, *, storage: str, path: str) -> InPlace:
    """Check a registration's storage and path; return the file's place."""
    return InPlace(storage, storage_store(settings, storage), checked_path(path))


@contextmanager
def open_in_place(place: InPlace) -> Iterator[BinaryIO]:
    """Open the file where it lies for streaming reads.

    Raises SourceNotFound when nothing is there, ForbiddenSource for a path
    through a symlink (filesystem).
    """
    store = place.store
    shown = f"{place.path!r} on storage {place.storage!r}"
    if isinstance(store, FilesystemStore):
        relative = PurePosixPath(place.path)
        how = default_resolver()
        with open_regular_beneath(store.root, relative, how=how, shown=shown) as stream:
            yield stream
        return
    with store.open(place.path) as stream:
        yield stream


def digest_in_place(place: InPlace) -> FileDigest:
    """Hash the file where it lies, streaming: nothing is copied."""
    with open_in_place(place) as stream:
        return digest_stream(stream)


def read_in_place(place: InPlace, dest: Path, *, sha256: str) -> Path:
    """Stream the file into the scratch file ``dest`` for a media tool, checking its sha256.

    A working copy beside the tool, as every derivation reads its source; the
    stored bytes stay where they lie. CorruptMedia when they changed since closed.
    """
    with open_in_place(place) as stream, dest.open("wb") as sink:
        digest = digest_stream(stream, copy_to=sink)
    if digest.sha256 != sha256:
        raise CorruptMedia(
            f"{place.path!r} on storage {place.storage!r} no longer matches its sha256 {sha256}"
        )
    return dest

"""Putting local files into the store under their content key."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from storage.base import ObjectStore
from storage.digest import FileDigest
from storage.keys import content_key


@dataclass(frozen=True)
class StoredObject:
    """Bytes that are now in the object store, and where."""

    backend: str
    bucket: str
    key: str
    sha256: str
    md5: str
    size: int
    content_type: str | None
    # False when the same content was already stored and nothing was uploaded.
    uploaded: bool


def store_content(
    store: ObjectStore,
    path: Path,
    *,
    digest: FileDigest,
    content_type: str | None,
    staged: str | None = None,
) -> StoredObject:
    """Store the file under its content key; existing content is not uploaded again.

    With ``staged``, the staging key of the same bytes already in the store
    (an upload), those are moved under the content key instead (no upload).
    """
    key = content_key(digest.sha256)
    if staged is None:
        put = store.put_file(key, path, content_type=content_type)
    else:
        put = store.adopt_staged(staged, key, content_type=content_type)
    return StoredObject(
        backend=put.backend,
        bucket=put.bucket,
        key=key,
        sha256=digest.sha256,
        md5=digest.md5,
        size=digest.size,
        content_type=content_type,
        uploaded=put.uploaded,
    )

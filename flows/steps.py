"""The Prefect tasks the flows compose.

Each wraps plain functions from ``tasks/`` or ``storage/`` with the shared
retry policy; the plain functions stay testable without Prefect.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from prefect import task

from core.settings import Settings
from flows.retry_policy import retrying
from storage import open_store
from storage.digest import FileDigest, digest_file
from storage.stored import StoredObject, store_content
from tasks.fetch import FetchedSource, fetch_source


@task(name="fetch", **retrying())
def fetch_step(source: str, *, dest_dir: Path, settings: Settings) -> FetchedSource:
    """Fetch the source into ``dest_dir``, hashing it on the way."""
    return fetch_source(source, dest_dir=dest_dir, settings=settings)


@task(name="store", **retrying())
def store_step(
    fetched: FetchedSource, *, content_type: str | None, settings: Settings
) -> StoredObject:
    """Put the fetched file into the object store under its content key."""
    digest = FileDigest(sha256=fetched.sha256, md5=fetched.md5, size=fetched.size)
    return store_content(
        open_store(settings), fetched.path, digest=digest, content_type=content_type
    )


@task(name="store-derivatives", **retrying())
def store_files_step(
    files: Sequence[tuple[Path, str | None]], *, settings: Settings
) -> list[StoredObject]:
    """Store derivative files (path, content type) under their content keys, in order."""
    store = open_store(settings)
    return [
        store_content(store, path, digest=digest_file(path), content_type=content_type)
        for path, content_type in files
    ]

"""The steps that bring bytes in and put them away: fetch the source, store files by content.

Content is claimed in the graph before it is stored (``claim``, models/gc.py),
so garbage collection never removes an object an ingest is about to record,
and a run that dies between storing and recording leaves a row that finds it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from core.errors import IngestError
from core.redact import redact_text
from core.settings import Settings
from flows.runtime import DeriveContext, step
from models.db import transact
from models.gc import Content, claim_contents
from storage import open_store
from storage.digest import FileDigest, digest_file
from storage.stored import StoredObject, store_content
from tasks.fetch import FetchedSource, fetch_source
from tasks.retrying import ONE_ATTEMPT
from tasks.upload_fetch import staged_key_of
from tasks.ytdlp import PageInfo, download_page_video, is_video_page


@dataclass(frozen=True)
class FetchResult:
    """What the fetch step brought: the source's file, and its page when it was a video page."""

    file: FetchedSource
    page: PageInfo | None = None


@step("fetch")
def fetch_step(source: str, *, dest_dir: Path, settings: Settings) -> FetchResult:
    """Fetch the source into ``dest_dir``, hashing it on the way.

    Video pages (YouTube and the other sites yt-dlp knows) go through yt-dlp;
    everything else is fetched as the file it names. The step's retries are
    the only ones: ``fetch_source`` tries once.
    """
    try:
        if is_video_page(source):
            download = download_page_video(source, dest_dir=dest_dir, settings=settings)
            return FetchResult(download.fetched, download.page)
        fetched = fetch_source(source, dest_dir=dest_dir, settings=settings, retry=ONE_ATTEMPT)
    except IngestError:
        raise
    except Exception as exc:
        # Only this step holds the source as given. An unexpected error that quotes
        # it would carry it into Prefect's state messages: its message goes redacted.
        raise RuntimeError(redact_text(f"{type(exc).__name__}: {exc}")) from exc
    return FetchResult(fetched)


@step("store")
def store_step(
    fetched: FetchedSource, *, content_type: str | None, settings: Settings
) -> StoredObject:
    """Put the fetched file into the object store under its content key.

    An upload's bytes are in the store already: they are moved, not uploaded again.
    """
    return store_content(
        open_store(settings),
        fetched.path,
        digest=fetched.digest,
        content_type=content_type,
        staged=staged_key_of(fetched.source),
    )


@step("store-derivatives")
def store_files_step(
    files: Sequence[tuple[Path, FileDigest, str | None]], *, settings: Settings
) -> list[StoredObject]:
    """Store derivative files (path, digest, content type) under their content keys, in order."""
    store = open_store(settings)
    return [
        store_content(store, path, digest=digest, content_type=content_type)
        for path, digest, content_type in files
    ]


def claim(engine: Engine, settings: Settings, contents: Sequence[Content]) -> None:
    """Claim content about to be stored, in a transaction of its own (committed before the put)."""
    store = open_store(settings)
    transact(
        engine,
        lambda session: claim_contents(
            session=session, backend=store.backend, bucket=store.bucket, contents=contents
        ),
        describe="claiming content",
    )


def store_derivatives(
    context: DeriveContext, files: Sequence[tuple[Path, str | None]]
) -> list[StoredObject]:
    """Hash, claim and store derivative files (path, content type); return them in order."""
    hashed = [(path, digest_file(path), content_type) for path, content_type in files]
    claim(
        context.engine,
        context.settings,
        [Content(digest, content_type) for _, digest, content_type in hashed],
    )
    return store_files_step.run(context.mode, hashed, settings=context.settings)

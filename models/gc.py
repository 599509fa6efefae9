"""Garbage collection of the object store: stored objects no live file row refers to.

An object can lose its last reference (a reprocess replaced a format, its
assets were soft-deleted) or never get one (the run died between storing and
recording). A file row refers to its content only while its asset is not
deleted (``_live_reference``); the rows of deleted assets stay, and so does
the Blob row they point at, but their bytes go. Two rules keep collection
from racing an ingest:

- Claim before store. An ingest writes (claims) the Blob row of content,
  stamping ``Blob.claimed_at``, and commits, before it stores or reuses the
  object (``claim_contents``). A claim younger than the grace period
  (``Settings.gc_grace_s``) keeps the object, whatever the file rows say.
- Lock, check, delete, forget. ``collect_garbage`` takes each candidate's
  Blob row for update (adopting a stray object with a row of its own first),
  checks again, by the same rule, that no live file row refers to it and that
  no claim is fresh, deletes the object, then the row unless a deleted
  asset's file row still names it, and commits. A claim racing it waits on
  that row lock, and once it is through, the ingest finds no object and
  stores it again: an object a file row is about to name is never deleted
  from under it.

Objects are listed in key order and file rows read in sha256 order, which
for content keys is the same order, so one merge finds both the objects
nothing refers to and the file rows whose object is missing, in constant
memory.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Engine, and_, delete, exists, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col

from models.db import transact
from models.tables import Asset, AssetStatus, Blob, File, utcnow
from storage.base import ObjectInfo, ObjectStore
from storage.digest import FileDigest
from storage.keys import CONTENT_PREFIX, content_key, sha256_of_key

# Referenced sha256s read from the database per round trip while merging.
REFERENCE_PAGE = 1000


@dataclass(frozen=True)
class Content:
    """Bytes an ingest is about to store or refer to."""

    digest: FileDigest
    content_type: str | None


def claim_contents(
    *, session: Session, backend: str, bucket: str, contents: Sequence[Content]
) -> None:
    """Claim content for an ingest in the caller's transaction: write or stamp its Blob rows.

    Commit before storing the objects: garbage collection then leaves them
    alone for its grace period, and waits for this transaction if it is
    collecting the same content right now.
    """
    now = utcnow()
    for content in sorted(contents, key=lambda c: c.digest.sha256):  # one lock order
        digest = content.digest
        values = {
            "sha256": digest.sha256,
            "md5": digest.md5,
            "size": digest.size,
            "content_type": content.content_type,
            "backend": backend,
            "bucket": bucket,
            "key": content_key(digest.sha256),
            "claimed_at": now,
            "created_at": now,
        }
        session.execute(
            _blob_insert(session)
            .values(**values)
            .on_conflict_do_update(index_elements=["sha256"], set_={"claimed_at": now})
        )


@dataclass(frozen=True)
class GcReport:
    """What a collection found and did (or, on a dry run, would do)."""

    dry_run: bool
    grace_s: float
    # Stored objects under content keys.
    objects: int
    # Objects nothing refers to that were (or would be) removed, and their bytes.
    collected: int
    freed_bytes: int
    # Objects nothing refers to yet, but written or claimed within the grace period.
    recent: int
    # Live file rows whose object is not in the store (distinct contents): damage to report.
    missing: int


def collect_garbage(
    engine: Engine, store: ObjectStore, *, grace_s: float, dry_run: bool = False
) -> GcReport:
    """Remove the stored objects no live file row refers to, once older than ``grace_s``."""
    cutoff = utcnow() - timedelta(seconds=grace_s)
    objects = collected = freed = recent = missing = 0
    for listed, referenced in _merge(store.iter_objects(CONTENT_PREFIX), _referenced(engine)):
        if listed is None:
            missing += 1
            continue
        objects += 1
        if referenced:
            continue
        if listed.modified is not None and listed.modified > cutoff:
            recent += 1
        elif _collect(engine, store, listed, cutoff=cutoff, dry_run=dry_run):
            collected += 1
            freed += listed.size
        else:
            recent += 1
    if not dry_run:
        _forget_unstored_claims(engine, cutoff)
    return GcReport(dry_run, grace_s, objects, collected, freed, recent, missing)


def _live_reference() -> ColumnElement[bool]:
    """The condition a file row must meet to keep its content: its asset is not deleted.

    A file in place on a configured storage refers to its own bytes there, not to
    the content store's.
    """
    return and_(
        col(Asset.id) == col(File.asset_id),
        col(Asset.status) != AssetStatus.DELETED,
        col(File.storage).is_(None),
    )


def _referenced(engine: Engine) -> Iterator[str]:
    """Yield the sha256 of every content a live file row refers to, in order, a page at a time."""
    after = ""
    while True:

        def read(session: Session, after: str = after) -> list[str]:
            statement = (
                select(col(File.sha256))
                .where(col(File.sha256) > after, _live_reference())
                .distinct()
                .order_by(col(File.sha256))
                .limit(REFERENCE_PAGE)
            )
            return list(session.execute(statement).scalars())

        page = transact(engine, read, describe="reading which contents are referred to")
        yield from page
        if len(page) < REFERENCE_PAGE:
            return
        after = page[-1]


def _merge(
    listed: Iterator[ObjectInfo], referenced: Iterator[str]
) -> Iterator[tuple[ObjectInfo | None, bool]]:
    """Pair each stored content object with whether it is referred to; (None, True) for missing.

    Keys that are not content keys are not assetflow's and are passed over.
    """
    wanted = next(referenced, None)
    previous = ""
    for info in listed:
        sha256 = sha256_of_key(info.key)
        if sha256 is None:
            continue
        if sha256 <= previous:
            raise RuntimeError(f"the store listed {info.key} out of key order: cannot collect")
        previous = sha256
        while wanted is not None and wanted < sha256:
            yield None, True
            wanted = next(referenced, None)
        yield info, wanted == sha256
        if wanted == sha256:
            wanted = next(referenced, None)
    while wanted is not None:
        yield None, True
        wanted = next(referenced, None)


def _collect(
    engine: Engine, store: ObjectStore, listed: ObjectInfo, *, cutoff: datetime, dry_run: bool
) -> bool:
    """Delete one unreferenced object and its Blob row under the row's lock; return if it went."""
    sha256 = sha256_of_key(listed.key)
    assert sha256 is not None  # _merge passes content keys only

    def attempt(session: Session) -> bool:
        # A row to lock even for a stray object (claimed when it was written);
        # on SQLite this write also takes the database's write lock.
        session.execute(
            _blob_insert(session)
            .values(
                sha256=sha256,
                md5="",
                size=listed.size,
                backend=store.backend,
                bucket=store.bucket,
                key=listed.key,
                claimed_at=listed.modified or cutoff,
                created_at=listed.modified or cutoff,
            )
            .on_conflict_do_nothing()
        )
        blob = session.execute(
            select(Blob).where(col(Blob.sha256) == sha256).with_for_update()
        ).scalar_one()
        claimed = blob.claimed_at or blob.created_at
        in_use = session.execute(
            select(exists().where(col(File.sha256) == sha256, _live_reference()))
        ).scalar()
        if claimed > cutoff or in_use or dry_run:
            session.rollback()
            return not (claimed > cutoff or in_use)
        store.delete(listed.key)
        # A deleted asset's file rows keep the row (they name it) but not the bytes.
        session.execute(
            delete(Blob).where(
                col(Blob.sha256) == sha256, ~exists().where(col(File.sha256) == sha256)
            )
        )
        return True

    return transact(engine, attempt, describe=f"collecting {listed.key}")


def _blob_insert(session: Session) -> postgresql.Insert | sqlite.Insert:
    """Start an INSERT into blob that can say what to do ON CONFLICT, in the session's dialect."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(Blob)
    return sqlite.insert(Blob)


def _forget_unstored_claims(engine: Engine, cutoff: datetime) -> None:
    """Delete Blob rows no file row names whose claim is older than the cutoff.

    Their objects were collected above or never stored (the run died first).
    A deleted asset's file rows still name theirs, so those rows stay.
    One statement: a claim renewed meanwhile no longer matches.
    """
    unreferenced = ~exists().where(col(File.sha256) == col(Blob.sha256))
    transact(
        engine,
        lambda session: session.execute(
            delete(Blob).where(unreferenced, col(Blob.claimed_at) < cutoff)
        ),
        describe="forgetting stale claims",
    )

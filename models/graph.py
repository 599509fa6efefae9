"""Operations on the asset graph.

Keyword-only functions; the caller owns the transaction (none of them
commits). Every change to an asset writes its event in the same transaction,
so the outbox never disagrees with the graph. Inserts that race with other
flow runs (projects, assets, blobs, jobs) go through ``INSERT ... ON CONFLICT
DO NOTHING`` so concurrent ingests leave exactly one row, on PostgreSQL and on
SQLite alike.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert
from sqlmodel import Session, SQLModel, col, select

from core.errors import IdentifierConflict
from core.kinds import AssetKind
from models.tables import (
    Asset,
    AssetStatus,
    AssetTag,
    AudioFingerprint,
    Blob,
    DropFolder,
    Event,
    File,
    FileSet,
    FileStatus,
    FingerprintTerm,
    Format,
    IngestJob,
    JobKind,
    JobStatus,
    Project,
    utcnow,
)
from storage.keys import content_key
from storage.stored import StoredObject


@dataclass(frozen=True)
class NewFile:
    """A stored object about to join a file set, with what is known of it."""

    name: str
    stored: StoredObject
    width: int | None = None
    height: int | None = None
    duration_s: float | None = None
    technical: dict[str, Any] = field(default_factory=dict)


def insert_ignoring_conflicts(session: Session, table: type[SQLModel]) -> Insert:
    """Build an INSERT that skips rows violating a unique constraint."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    if dialect == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing()
    raise NotImplementedError(f"unsupported database dialect: {dialect}")


# The event an asset's or a job's move into a status writes; other changes are *.changed.
ASSET_STATUS_EVENTS = {
    AssetStatus.READY: "asset.ready",
    AssetStatus.FAILED: "asset.failed",
    AssetStatus.DELETED: "asset.deleted",
}
JOB_STATUS_EVENTS = {JobStatus.COMPLETED: "task.completed", JobStatus.FAILED: "task.failed"}


def record_event(
    *,
    session: Session,
    asset_id: uuid.UUID | None,
    type: str,
    payload: dict[str, Any],
    job_id: uuid.UUID | None = None,
) -> Event:
    """Add an event to the outbox in the caller's transaction."""
    event = Event(asset_id=asset_id, job_id=job_id, type=type, payload=payload)
    session.add(event)
    return event


def ensure_project(*, session: Session, name: str) -> Project:
    """Return the project with this name, creating it if it does not exist."""
    by_name = select(Project).where(Project.name == name)
    # Looked up first: the project nearly always exists, and the SELECT is a
    # cached statement where the dialect's INSERT ... ON CONFLICT is compiled anew.
    project = session.exec(by_name).one_or_none()
    if project is not None:
        return project
    session.execute(insert_ignoring_conflicts(session, Project).values(id=uuid.uuid4(), name=name))
    return session.exec(by_name).one()


def ensure_drop_folder(*, session: Session, location: str) -> DropFolder:
    """Return the drop folder at this S3 location, recording it if it is new."""
    at = select(DropFolder).where(DropFolder.location == location)
    folder = session.exec(at).one_or_none()
    if folder is not None:
        return folder
    session.execute(
        insert_ignoring_conflicts(session, DropFolder).values(
            id=uuid.uuid4(), location=location, created_at=utcnow()
        )
    )
    return session.exec(at).one()


def find_asset(*, session: Session, project_id: uuid.UUID, identifier: str) -> Asset | None:
    """Return the project's asset with this identifier, if any."""
    statement = select(Asset).where(Asset.project_id == project_id, Asset.identifier == identifier)
    return session.exec(statement).one_or_none()


def child_assets(*, session: Session, parent_id: uuid.UUID) -> list[Asset]:
    """Return the live assets that hang off ``parent_id``, oldest first."""
    statement = (
        select(Asset)
        .where(Asset.parent_id == parent_id, Asset.status != AssetStatus.DELETED)
        .order_by(col(Asset.created_at), col(Asset.id))
    )
    return list(session.exec(statement).all())


def create_asset(
    *,
    session: Session,
    project: Project,
    identifier: str,
    source: str,
    title: str | None = None,
    description: str | None = None,
    category: str | None = None,
    tags: Sequence[str] = (),
    external_id: str | None = None,
    original_filename: str | None = None,
    folder: str | None = None,
    role: str | None = None,
    parent_id: uuid.UUID | None = None,
    drop_folder_id: uuid.UUID | None = None,
    owner: str | None = None,
    data: dict[str, Any] | None = None,
    kind: AssetKind = AssetKind.OTHER,
    status: AssetStatus = AssetStatus.PENDING,
) -> Asset:
    """Create an asset (pending unless told) and its asset.created event.

    Raises ``IdentifierConflict`` when the identifier is already used in the
    project, whatever the other fields say; nothing is written then.
    """
    now = utcnow()
    values = {
        "id": uuid.uuid4(),
        "project_id": project.id,
        "identifier": identifier,
        "source": source,
        "title": title,
        "description": description,
        "category": category,
        "tags": list(tags),
        "external_id": external_id,
        "original_filename": original_filename,
        "folder": folder,
        "role": role,
        "parent_id": parent_id,
        "drop_folder_id": drop_folder_id,
        "owner": owner,
        "data": data,
        "ai_tags": [],
        "kind": kind,
        "status": status,
        "processed": status == AssetStatus.READY,
        "created_at": now,
        "updated_at": now,
    }
    # RETURNING the entity loads it into the session: no second SELECT.
    asset = session.scalars(
        insert_ignoring_conflicts(session, Asset).values(**values).returning(Asset)
    ).one_or_none()
    if asset is None:
        existing = find_asset(session=session, project_id=project.id, identifier=identifier)
        raise IdentifierConflict(
            f"identifier {identifier!r} is already used in project {project.name!r}"
            + (f" by asset {existing.id}" if existing else ""),
            existing_id=existing.id if existing else None,
        )
    session.add_all(_tag_rows(asset))
    record_event(
        session=session,
        asset_id=asset.id,
        type="asset.created",
        payload={"project": project.name, "identifier": identifier, "source": source},
    )
    return asset


def update_asset(*, session: Session, asset: Asset, **changes: Any) -> Asset:
    """Change fields of an asset and write an asset.changed event naming them."""
    changed = {name: value for name, value in changes.items() if getattr(asset, name) != value}
    if not changed:
        return asset
    for name, value in changed.items():
        setattr(asset, name, value)
    asset.updated_at = utcnow()
    session.add(asset)
    if "tags" in changed:
        session.execute(delete(AssetTag).where(col(AssetTag.asset_id) == asset.id))
        session.add_all(_tag_rows(asset))
    moved_to = AssetStatus(changed["status"]) if "status" in changed else None
    record_event(
        session=session,
        asset_id=asset.id,
        type=ASSET_STATUS_EVENTS.get(moved_to, "asset.changed") if moved_to else "asset.changed",
        payload={"changed": {name: _jsonable(value) for name, value in changed.items()}},
    )
    return asset


def _tag_rows(asset: Asset) -> list[AssetTag]:
    """Return the ``asset_tag`` rows (what listing by tag reads) of the asset's tags."""
    return [
        AssetTag(asset_id=asset.id, tag=tag, created_at=asset.created_at)
        for tag in dict.fromkeys(asset.tags)
    ]


def _jsonable(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def record_blob(*, session: Session, stored: StoredObject) -> None:
    """Record stored content once; a second record of the same sha256 is a no-op."""
    session.execute(
        insert_ignoring_conflicts(session, Blob).values(
            sha256=stored.sha256,
            md5=stored.md5,
            size=stored.size,
            content_type=stored.content_type,
            backend=stored.backend,
            bucket=stored.bucket,
            key=stored.key,
            created_at=utcnow(),
        )
    )


@dataclass(frozen=True)
class RecordedFormat:
    """A format as recorded, with its files in the order they were given."""

    format: Format
    files: list[File]


def record_format(
    *,
    session: Session,
    asset: Asset,
    name: str,
    files: Sequence[NewFile],
    technical: dict[str, Any] | None = None,
    recipe_key: str | None = None,
) -> RecordedFormat:
    """Record a format of the asset with one file set holding ``files``.

    Replaces a format of the same name (a reprocess with a new recipe); the
    blobs it pointed at stay, since other assets may share them. Every file
    must already be stored: the rows are written CLOSED.
    """
    remove_format(session=session, asset=asset, name=name)
    fmt = Format(asset_id=asset.id, name=name, technical=technical or {}, recipe_key=recipe_key)
    session.add(fmt)
    session.flush()
    locations = {(new.stored.backend, new.stored.bucket) for new in files}
    if len(locations) > 1:
        raise ValueError(f"files of format {name} live in more than one place: {locations}")
    backend, bucket = next(iter(locations)) if locations else ("", "")
    file_set = FileSet(format_id=fmt.id, asset_id=asset.id, backend=backend, bucket=bucket)
    session.add(file_set)
    session.flush()
    rows = []
    for new in files:
        record_blob(session=session, stored=new.stored)
        rows.append(
            File(
                file_set_id=file_set.id,
                asset_id=asset.id,
                sha256=new.stored.sha256,
                name=new.name,
                key=new.stored.key,
                size=new.stored.size,
                md5=new.stored.md5,
                content_type=new.stored.content_type,
                width=new.width,
                height=new.height,
                duration_s=new.duration_s,
                status=FileStatus.CLOSED,
                technical=new.technical,
            )
        )
    session.add_all(rows)
    session.flush()
    return RecordedFormat(format=fmt, files=rows)


def remove_format(*, session: Session, asset: Asset, name: str) -> None:
    """Delete a format of the asset with its file sets, files and what hangs off them."""
    fmt = find_format(session=session, asset_id=asset.id, name=name)
    if fmt is None:
        return
    file_set_ids = select(FileSet.id).where(FileSet.format_id == fmt.id)
    file_ids = select(File.id).where(col(File.file_set_id).in_(file_set_ids))
    fingerprint_ids = select(AudioFingerprint.id).where(col(AudioFingerprint.file_id).in_(file_ids))
    session.execute(
        delete(FingerprintTerm).where(col(FingerprintTerm.fingerprint_id).in_(fingerprint_ids))
    )
    session.execute(delete(AudioFingerprint).where(col(AudioFingerprint.file_id).in_(file_ids)))
    session.execute(delete(File).where(col(File.file_set_id).in_(file_set_ids)))
    session.execute(delete(FileSet).where(col(FileSet.format_id) == fmt.id))
    session.delete(fmt)
    session.flush()


def remove_formats_named_like(*, session: Session, asset: Asset, prefix: str) -> None:
    """Delete every format of the asset whose name starts with ``prefix`` (e.g. ``SIZE_``)."""
    names = session.exec(
        select(Format.name).where(
            Format.asset_id == asset.id, col(Format.name).startswith(prefix, autoescape=True)
        )
    ).all()
    for name in names:
        remove_format(session=session, asset=asset, name=name)


def describe_format(
    *,
    session: Session,
    asset_id: uuid.UUID,
    name: str,
    technical: dict[str, Any],
    width: int | None = None,
    height: int | None = None,
    duration_s: float | None = None,
) -> None:
    """Add probed technical metadata to a recorded format and its files' dimensions."""
    fmt = find_format(session=session, asset_id=asset_id, name=name)
    if fmt is None:
        raise LookupError(f"asset {asset_id} has no {name} format to describe")
    fmt.technical = {**fmt.technical, **technical}
    session.add(fmt)
    files = session.exec(
        select(File)
        .join(FileSet, col(FileSet.id) == col(File.file_set_id))
        .where(FileSet.format_id == fmt.id)
    ).all()
    for file in files:
        file.width, file.height, file.duration_s = width, height, duration_s
        file.technical = {**file.technical, **technical}
        session.add(file)


def find_format(*, session: Session, asset_id: uuid.UUID, name: str) -> Format | None:
    """Return the asset's format of this name, if recorded."""
    statement = select(Format).where(Format.asset_id == asset_id, Format.name == name)
    return session.exec(statement).one_or_none()


def create_job(
    *,
    session: Session,
    kind: JobKind,
    input: dict[str, Any],
    idempotency_key: str | None = None,
    secret_source: str | None = None,
    flow_run_id: uuid.UUID | None = None,
    asset_id: uuid.UUID | None = None,
) -> tuple[IngestJob, bool]:
    """Create a pending job; with a known idempotency key, return that job instead.

    ``asset_id`` names an asset made for the job, which its run takes up.
    Returns the job and whether this call created it.
    """
    if idempotency_key is None:
        # Nothing to conflict with: a plain insert, flushed with the caller's
        # next changes to the job as one statement.
        job = IngestJob(
            kind=kind,
            status=JobStatus.PENDING,
            input=input,
            secret_source=secret_source,
            flow_run_id=flow_run_id,
            asset_id=asset_id,
            progress=0,
        )
        session.add(job)
        return job, True
    now = utcnow()
    inserted = session.scalars(
        insert_ignoring_conflicts(session, IngestJob)
        .values(
            id=uuid.uuid4(),
            kind=kind,
            status=JobStatus.PENDING,
            input=input,
            idempotency_key=idempotency_key,
            secret_source=secret_source,
            flow_run_id=flow_run_id,
            asset_id=asset_id,
            progress=0,
            created_at=now,
            updated_at=now,
        )
        .returning(IngestJob)
    ).one_or_none()
    if inserted is not None:
        return inserted, True
    existing = session.exec(
        select(IngestJob).where(IngestJob.idempotency_key == idempotency_key)
    ).one()
    return existing, False


def update_job(*, session: Session, job: IngestJob, **changes: Any) -> IngestJob:
    """Change fields of a job and stamp its update time; its end writes task.completed/failed."""
    ended = changes.get("status") in JOB_STATUS_EVENTS and changes["status"] != job.status
    for name, value in changes.items():
        setattr(job, name, value)
    job.updated_at = utcnow()
    session.add(job)
    if ended:
        # Flushed first: the event's foreign key needs the job's row.
        session.flush()
        record_event(
            session=session,
            asset_id=job.asset_id,
            job_id=job.id,
            type=JOB_STATUS_EVENTS[JobStatus(job.status)],
            payload={"task_id": str(job.id), "status": str(job.status), "error": job.error},
        )
    return job


def graph_changed(*, session: Session, asset: Asset, change: dict[str, Any]) -> None:
    """Stamp the asset and write an asset.changed event saying what its graph gained or lost."""
    asset.updated_at = utcnow()
    session.add(asset)
    record_event(
        session=session, asset_id=asset.id, type="asset.changed", payload={"changed": change}
    )


def add_format(*, session: Session, asset: Asset, name: str, technical: dict[str, Any]) -> Format:
    """Add a format to the asset by hand; the caller checks that the name is free."""
    fmt = Format(asset_id=asset.id, name=name, technical=technical)
    session.add(fmt)
    graph_changed(session=session, asset=asset, change={"formats": {"added": name}})
    session.flush()
    return fmt


def add_file_set(
    *,
    session: Session,
    asset: Asset,
    fmt: Format,
    name: str,
    backend: str,
    bucket: str,
    storage: str | None,
    components: Sequence[dict[str, Any]],
) -> FileSet:
    """Add a file set to one of the asset's formats; ``storage`` None: the content store."""
    file_set = FileSet(
        format_id=fmt.id,
        asset_id=asset.id,
        name=name,
        backend=backend,
        bucket=bucket,
        storage=storage,
        components=list(components),
    )
    session.add(file_set)
    session.flush()
    change = {"file_sets": {"added": str(file_set.id), "format": fmt.name}}
    graph_changed(session=session, asset=asset, change=change)
    return file_set


def register_file(
    *,
    session: Session,
    asset: Asset,
    file_set: FileSet,
    name: str,
    key: str,
    size: int,
    checksum: str | None,
    content_type: str | None,
    file_id: uuid.UUID | None = None,
) -> File:
    """Add an OPEN file to a file set: its bytes are where ``key`` says, not yet verified."""
    file = File(
        id=file_id or uuid.uuid4(),
        file_set_id=file_set.id,
        asset_id=asset.id,
        sha256=None,
        name=name,
        key=key,
        storage=file_set.storage,
        size=size,
        md5="",
        checksum=checksum,
        content_type=content_type,
        status=FileStatus.OPEN,
    )
    session.add(file)
    session.flush()
    graph_changed(session=session, asset=asset, change={"files": {"added": str(file.id)}})
    return file


def close_file(*, session: Session, asset: Asset, file: File, stored: StoredObject) -> File:
    """Mark a file CLOSED with the digest its bytes were read to, and record their blob.

    The blob row is the content's identity (sha256, md5, size) under its content
    key; the file row says where these bytes lie, in place on a storage or not.
    """
    record_blob(session=session, stored=replace(stored, key=content_key(stored.sha256)))
    file.sha256, file.md5, file.size, file.key = stored.sha256, stored.md5, stored.size, stored.key
    file.status, file.error = FileStatus.CLOSED, None
    session.add(file)
    graph_changed(session=session, asset=asset, change={"files": {"closed": str(file.id)}})
    return file

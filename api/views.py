"""Read the asset graph into the API's objects, a few queries per answer whatever its size."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlmodel import Session, col, select

from api.ids import file_id, request_id, task_id
from api.schemas import (
    AssetDetail,
    AssetObject,
    Component,
    EventObject,
    FileData,
    FileEnvelope,
    FileObject,
    FileSetObject,
    FormatObject,
    Links,
    Meta,
    ProjectObject,
    StoredFile,
    TaskData,
    TaskEnvelope,
    TaskObject,
)
from models.tables import (
    ORIGINAL,
    Asset,
    AudioFingerprint,
    Event,
    File,
    FileSet,
    Format,
    IngestJob,
    Project,
)


def project_object(project: Project) -> ProjectObject:
    """Show a project."""
    return ProjectObject(
        id=project.id,
        name=project.name,
        description=project.description,
        created=project.created_at,
    )


def asset_object(asset: Asset, project: str, md5: str | None) -> AssetObject:
    """Show an asset's own fields; ``md5`` is its original's, once stored."""
    return AssetObject(
        id=asset.id,
        project_id=asset.project_id,
        project=project,
        identifier=asset.identifier,
        external_id=asset.external_id,
        title=asset.title,
        description=asset.description,
        category=asset.category,
        tags=list(asset.tags),
        kind=asset.kind,
        role=asset.role,
        parent_id=asset.parent_id,
        status=asset.status,
        processed=asset.processed,
        source=asset.source,
        filename=asset.original_filename,
        folder=asset.folder,
        content_type=asset.content_type,
        placeholder=asset.placeholder,
        md5_sum=md5,
        error=asset.error,
        created=asset.created_at,
        updated=asset.updated_at,
    )


def _fps(technical: dict[str, Any]) -> float | None:
    for stream in technical.get("streams", ()):
        if stream.get("kind") == "video" and stream.get("frame_rate"):
            return float(stream["frame_rate"])
    return None


def file_object(asset: Asset, project: str, original: tuple[Format, File] | None) -> FileObject:
    """Show an asset as a file: its fields and its original's facts, once stored."""
    fmt, file = original if original else (None, None)
    return FileObject(
        id=asset.id,
        project=project,
        identifier=asset.identifier,
        kind=asset.kind,
        content_type=asset.content_type,
        width=file.width if file else None,
        height=file.height if file else None,
        duration=file.duration_s if file else None,
        fps=_fps(fmt.technical) if fmt else None,
        filesize=file.size if file else None,
        sha256=file.sha256 if file else None,
        md5=file.md5 if file else None,
        folder=asset.folder,
        filename=asset.original_filename,
        status=asset.status,
        error=asset.error,
        download_url=f"/files/{file_id(asset.id)}/content",
        created=asset.created_at,
        updated=asset.updated_at,
    )


def task_object(job: IngestJob, file: FileObject | None = None) -> TaskObject:
    """Show a job as a task."""
    return TaskObject(
        id=job.id,
        kind=job.kind,
        status=job.status,
        progress=job.progress,
        error=job.error,
        asset_id=job.asset_id,
        created=job.created_at,
        updated=job.updated_at,
        file=file,
    )


def file_envelope(file: FileObject, base_url: str) -> FileEnvelope:
    """Wrap a file as the files family answers it."""
    shown = file_id(file.id)
    return FileEnvelope(
        meta=Meta(id=request_id()),
        data=FileData(**(file.model_dump() | {"id": shown})),
        links=Links(self=f"{base_url.rstrip('/')}/files/{shown}"),
    )


def task_envelope(task: TaskObject, base_url: str) -> TaskEnvelope:
    """Wrap a task as the tasks family answers it; its file as the files family shows it."""
    shown = task_id(task.id)
    file = (
        FileData(**(task.file.model_dump() | {"id": file_id(task.file.id)})) if task.file else None
    )
    return TaskEnvelope(
        meta=Meta(id=request_id()),
        data=TaskData(**(task.model_dump() | {"id": shown, "file": file})),
        links=Links(self=f"{base_url.rstrip('/')}/tasks/{shown}"),
    )


def event_object(event: Event) -> EventObject:
    """Show an event."""
    assert event.id is not None
    return EventObject(
        id=event.id,
        type=event.type,
        asset_id=event.asset_id,
        task_id=event.job_id,
        payload=event.payload,
        created=event.created_at,
    )


def _asset_with_project(session: Session, asset_id: uuid.UUID) -> tuple[Asset, str] | None:
    row = session.exec(
        select(Asset, Project.name)
        .join(Project, col(Project.id) == col(Asset.project_id))
        .where(Asset.id == asset_id)
    ).one_or_none()
    return (row[0], row[1]) if row else None


def _originals(
    session: Session, asset_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, tuple[Format, File]]:
    rows = session.exec(
        select(Format, File)
        .join(FileSet, col(FileSet.format_id) == col(Format.id))
        .join(File, col(File.file_set_id) == col(FileSet.id))
        .where(col(Format.asset_id).in_(asset_ids), Format.name == ORIGINAL)
    ).all()
    return {fmt.asset_id: (fmt, file) for fmt, file in rows}


def original_md5s(session: Session, asset_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
    """Return the MD5 of each asset's original, for those stored."""
    if not asset_ids:
        return {}
    rows = session.exec(
        select(File.asset_id, File.md5)
        .join(FileSet, col(FileSet.id) == col(File.file_set_id))
        .join(Format, col(Format.id) == col(FileSet.format_id))
        .where(col(File.asset_id).in_(asset_ids), Format.name == ORIGINAL)
    ).all()
    return dict(rows)


def load_file(session: Session, asset_id: uuid.UUID) -> FileObject | None:
    """Show an asset as a file, or None when there is no such asset."""
    found = _asset_with_project(session, asset_id)
    if found is None:
        return None
    asset, project = found
    return file_object(asset, project, _originals(session, [asset_id]).get(asset_id))


def load_task(session: Session, job_id: uuid.UUID) -> TaskObject | None:
    """Show a job as a task, with its file once it has completed; None when there is no such job."""
    job = session.get(IngestJob, job_id)
    if job is None:
        return None
    file = load_file(session, job.asset_id) if job.asset_id and job.status == "completed" else None
    return task_object(job, file)


def load_asset_detail(session: Session, asset_id: uuid.UUID) -> AssetDetail | None:
    """Show an asset with its whole graph, or None when there is no such asset."""
    found = _asset_with_project(session, asset_id)
    if found is None:
        return None
    asset, project = found
    formats = session.exec(
        select(Format).where(Format.asset_id == asset_id).order_by(col(Format.name))
    ).all()
    file_sets = session.exec(select(FileSet).where(FileSet.asset_id == asset_id)).all()
    files = session.exec(
        select(File).where(File.asset_id == asset_id).order_by(col(File.name))
    ).all()
    fingerprints = (
        _fragment_fingerprints(session, asset_id)
        if any(f.name == "AUDIO_FRAGMENT" for f in formats)
        else {}
    )
    jobs = session.exec(
        select(IngestJob).where(IngestJob.asset_id == asset_id).order_by(col(IngestJob.created_at))
    ).all()
    files_by_set: dict[uuid.UUID, list[StoredFile]] = defaultdict(list)
    md5 = None
    for file in files:
        files_by_set[file.file_set_id].append(stored_file(file, fingerprints.get(file.id)))
    sets_by_format: dict[uuid.UUID, list[FileSetObject]] = defaultdict(list)
    for file_set in file_sets:
        sets_by_format[file_set.format_id].append(
            file_set_object(file_set, files_by_set[file_set.id])
        )
    shown = []
    for fmt in formats:
        sets = sets_by_format[fmt.id]
        if fmt.name == ORIGINAL and sets and sets[0].files:
            md5 = sets[0].files[0].md5
        shown.append(format_object(fmt, sets))
    return AssetDetail(
        **asset_object(asset, project, md5).model_dump(),
        formats=shown,
        tasks=[task_object(job) for job in jobs],
    )


def _fragment_fingerprints(session: Session, asset_id: uuid.UUID) -> dict[uuid.UUID, str]:
    rows = session.exec(
        select(AudioFingerprint.file_id, AudioFingerprint.compressed).where(
            AudioFingerprint.asset_id == asset_id, col(AudioFingerprint.file_id).is_not(None)
        )
    ).all()
    return {file_id: compressed for file_id, compressed in rows if file_id is not None}


def file_set_object(file_set: FileSet, files: list[StoredFile]) -> FileSetObject:
    """Show a file set with its files."""
    return FileSetObject(
        id=file_set.id,
        name=file_set.name,
        backend=file_set.backend,
        bucket=file_set.bucket,
        storage=file_set.storage,
        components=[Component.model_validate(item) for item in file_set.components],
        files=files,
    )


def format_object(fmt: Format, file_sets: list[FileSetObject]) -> FormatObject:
    """Show a format with its file sets."""
    return FormatObject(id=fmt.id, name=fmt.name, technical=fmt.technical, file_sets=file_sets)


def stored_file(file: File, fingerprint: str | None = None) -> StoredFile:
    """Show one file of a file set."""
    return StoredFile(
        id=file.id,
        name=file.name,
        key=file.key,
        size=file.size,
        sha256=file.sha256,
        md5=file.md5,
        content_type=file.content_type,
        width=file.width,
        height=file.height,
        duration_s=file.duration_s,
        status=file.status,
        technical=file.technical,
        fingerprint=fingerprint,
        storage=file.storage,
        checksum=file.checksum,
        error=file.error,
    )

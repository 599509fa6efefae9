"""Read-side queries of the asset graph: what ``show`` prints (``ls`` reads models/listing.py)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from sqlmodel import Session, col, select

from models.tables import Asset, Event, File, FileSet, Format, IngestJob, Project


@dataclass(frozen=True)
class FormatView:
    """A format with its file sets and their files."""

    format: Format
    file_sets: list[tuple[FileSet, list[File]]]


@dataclass(frozen=True)
class AssetGraph:
    """One asset and everything that hangs off it."""

    asset: Asset
    project: Project
    formats: list[FormatView]
    jobs: list[IngestJob] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)


def load_asset_graph(*, session: Session, asset_id: uuid.UUID) -> AssetGraph | None:
    """Load an asset with its formats, file sets, files, jobs and events."""
    asset = session.get(Asset, asset_id)
    if asset is None:
        return None
    formats = session.exec(
        select(Format).where(Format.asset_id == asset_id).order_by(col(Format.name))
    ).all()
    views = []
    for fmt in formats:
        file_sets = session.exec(select(FileSet).where(FileSet.format_id == fmt.id)).all()
        views.append(
            FormatView(
                format=fmt,
                file_sets=[
                    (
                        file_set,
                        list(
                            session.exec(
                                select(File)
                                .where(File.file_set_id == file_set.id)
                                .order_by(col(File.name))
                            ).all()
                        ),
                    )
                    for file_set in file_sets
                ],
            )
        )
    jobs = session.exec(
        select(IngestJob).where(IngestJob.asset_id == asset_id).order_by(col(IngestJob.created_at))
    ).all()
    events = session.exec(
        select(Event).where(Event.asset_id == asset_id).order_by(col(Event.id))
    ).all()
    return AssetGraph(
        asset=asset,
        project=session.get_one(Project, asset.project_id),
        formats=views,
        jobs=list(jobs),
        events=list(events),
    )

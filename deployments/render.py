"""Render the asset graph: a tree a person can read, or JSON a program can (``--json``)."""

from __future__ import annotations

from typing import Any

from models.queries import AssetGraph
from models.tables import Asset, File, FileSet, Format, IngestJob

# The fields of each row that the JSON shows, in order (the README documents them).
ASSET_FIELDS = (
    "id", "identifier", "status", "kind", "content_type", "title", "description", "category",
    "tags", "external_id", "source", "original_filename", "placeholder", "error",
    "created_at", "updated_at",
)  # fmt: skip
FORMAT_FIELDS = ("name", "technical", "recipe_key")
FILE_SET_FIELDS = ("backend", "bucket")
FILE_FIELDS = (
    "name", "key", "size", "sha256", "md5", "content_type", "width", "height", "duration_s",
    "status",
)  # fmt: skip
JOB_FIELDS = ("id", "kind", "status", "progress", "error", "flow_run_id", "created_at")


def asset_json(asset: Asset, project: str) -> dict[str, Any]:
    """Describe an asset as ``ls --json`` lists it: its fields and its project's name."""
    return {"project": project, **_fields(asset, ASSET_FIELDS)}


def graph_json(graph: AssetGraph) -> dict[str, Any]:
    """Describe an asset's graph as ``show --json`` prints it."""
    return asset_json(graph.asset, graph.project.name) | {
        "formats": [
            _fields(view.format, FORMAT_FIELDS)
            | {"file_sets": [_file_set_json(file_set, files) for file_set, files in view.file_sets]}
            for view in graph.formats
        ],
        "jobs": [_fields(job, JOB_FIELDS) for job in graph.jobs],
    }


def _file_set_json(file_set: FileSet, files: list[File]) -> dict[str, Any]:
    return _fields(file_set, FILE_SET_FIELDS) | {
        "files": [_fields(file, FILE_FIELDS) for file in files]
    }


def _fields(
    row: Asset | Format | FileSet | File | IngestJob, names: tuple[str, ...]
) -> dict[str, Any]:
    return {name: getattr(row, name) for name in names}


def render_tree(graph: AssetGraph) -> str:
    """Draw an asset, its formats, file sets and files as an indented tree."""
    asset = graph.asset
    lines = [
        f"asset {asset.id}  [{asset.status}]  {asset.kind}  {asset.content_type or ''}".rstrip(),
        f"├── project: {graph.project.name}   identifier: {asset.identifier}",
        f"├── source: {asset.source}",
    ]
    details = {
        "title": asset.title,
        "category": asset.category,
        "tags": ", ".join(asset.tags) if asset.tags else None,
        "original filename": asset.original_filename,
        "placeholder": asset.placeholder,
        "error": asset.error,
    }
    lines += [f"├── {name}: {value}" for name, value in details.items() if value]
    lines.append(f"├── formats ({len(graph.formats)})")
    for f_index, view in enumerate(graph.formats):
        last_format = f_index == len(graph.formats) - 1
        branch, stem = ("└──", "    ") if last_format else ("├──", "│   ")
        lines.append(f"│   {branch} {view.format.name}{_summary(view.format.technical)}")
        for s_index, (file_set, files) in enumerate(view.file_sets):
            last_set = s_index == len(view.file_sets) - 1
            set_branch, set_stem = ("└──", "    ") if last_set else ("├──", "│   ")
            lines.append(f"│   {stem}{set_branch} file set {file_set.backend}:{file_set.bucket}")
            lines += [
                f"│   {stem}{set_stem}{'└──' if i == len(files) - 1 else '├──'} {_file_line(file)}"
                for i, file in enumerate(files)
            ]
    lines.append(f"└── jobs: {', '.join(f'{job.id} {job.status}' for job in graph.jobs) or '-'}")
    return "\n".join(lines)


def _summary(technical: dict[str, Any]) -> str:
    keys = ("codec", "width", "height", "duration_s", "format")
    shown = [f"{key}={technical[key]}" for key in keys if technical.get(key) is not None]
    return f"  ({', '.join(shown)})" if shown else ""


def _file_line(file: File) -> str:
    dims = f" {file.width}x{file.height}" if file.width and file.height else ""
    duration = f" {file.duration_s:.2f}s" if file.duration_s else ""
    # An OPEN file registered by hand has no verified sha256 yet.
    digest = f"sha256:{file.sha256[:16]}…" if file.sha256 else "sha256:unverified"
    where = f"{file.storage}:{file.key}" if file.storage else file.key
    return (
        f"{file.name}  {file.content_type or '?'}{dims}{duration}  {file.size} B  "
        f"{digest}  [{file.status}]  {where}"
    )

"""Render the asset graph for a terminal: a tree a person can read."""

from __future__ import annotations

from typing import Any

from models.queries import AssetGraph
from models.tables import File


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
    return (
        f"{file.name}  {file.content_type or '?'}{dims}{duration}  {file.size} B  "
        f"sha256:{file.sha256[:16]}…  [{file.status}]  {file.key}"
    )

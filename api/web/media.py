"""What a page shows of an asset's formats: content URLs, thumbnails, srcsets, players' inputs.

Every URL is the API's content route with ``v=`` the start of the file's
SHA-256, so a URL names one content: the browser may keep it for a year
(the route answers with an ETag and ``immutable``), and a reprocessed
rendition gets a new URL.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import or_, select
from sqlmodel import Session, col

from api.schemas import AssetDetail, FormatObject, StoredFile
from models.tables import (
    KEYFRAMES,
    ORIGINAL,
    POSTER,
    PROXY,
    SIZE_PREFIX,
    WAVEFORM,
    File,
    FileSet,
    Format,
)

# The grid's cards are about 220 CSS pixels wide: the 320 size is sharp up to DPR 1.5.
GRID_EDGE = 320
# The asset page shows its image up to 860 CSS pixels wide: src is the largest size.
PAGE_EDGE = 1280


@dataclass(frozen=True)
class Picture:
    """An image a page shows: its URL, its size, and the sizes to choose from (``srcset``)."""

    url: str
    width: int | None
    height: int | None
    srcset: str = ""


Thumbnail = Picture


@dataclass(frozen=True)
class Download:
    """A file of a format, as the page lists it, with its link."""

    format: str
    name: str
    size: int
    content_type: str | None
    width: int | None
    height: int | None
    duration_s: float | None
    url: str


@dataclass(frozen=True)
class AssetMedia:
    """What the asset page plays and lists."""

    original: str | None = None
    picture: Picture | None = None
    poster: str | None = None
    proxy: str | None = None
    # The keyframe map: its WebVTT, and each sprite sheet's content key -> URL.
    keyframes_vtt: str | None = None
    sprite_urls: dict[str, str] = field(default_factory=dict)
    waveform: str | None = None
    probe: dict[str, Any] = field(default_factory=dict)
    streams: list[dict[str, Any]] = field(default_factory=list)
    downloads: list[Download] = field(default_factory=list)


def content_url(asset_id: uuid.UUID, fmt: str, name: str | None, sha256: str | None) -> str:
    """Return the content route's URL of one file, versioned by its content.

    A file built by hand and not yet verified has no sha256, so no version.
    """
    version = {"v": sha256[:16]} if sha256 else {}
    query = {"format": fmt, **({"name": name} if name else {}), **version}
    return f"/files/{asset_id}/content?{urlencode(query)}"


def _edge(fmt: str) -> int:
    return int(fmt.removeprefix(SIZE_PREFIX)) if fmt.removeprefix(SIZE_PREFIX).isdigit() else 0


def _picture(
    asset_id: uuid.UUID,
    sizes: Sequence[tuple[str, str | None, int | None, int | None]],
    edge: int = GRID_EDGE,
) -> Picture:
    """Choose the size for ``edge`` (or the largest below it) and list all in ``srcset``."""
    ordered = sorted(sizes, key=lambda size: _edge(size[0]))
    chosen = next((size for size in ordered if _edge(size[0]) >= edge), ordered[-1])
    srcset = ", ".join(
        f"{content_url(asset_id, fmt, None, sha)} {width}w"
        for fmt, sha, width, _ in ordered
        if width
    )
    fmt, sha, width, height = chosen
    return Picture(content_url(asset_id, fmt, None, sha), width, height, srcset)


def thumbnails(session: Session, asset_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Picture]:
    """Return each asset's picture for a card: a video's poster, an image's sizes. One query."""
    if not asset_ids:
        return {}
    rows = session.execute(
        select(
            col(Format.asset_id),
            col(Format.name),
            col(File.sha256),
            col(File.width),
            col(File.height),
        )
        .join(FileSet, col(FileSet.format_id) == col(Format.id))
        .join(File, col(File.file_set_id) == col(FileSet.id))
        .where(
            col(Format.asset_id).in_(list(asset_ids)),
            # Said of the file sets too, so that their asset index serves (no scan of them all).
            col(FileSet.asset_id).in_(list(asset_ids)),
            or_(col(Format.name) == POSTER, col(Format.name).startswith(SIZE_PREFIX)),
        )
    ).all()
    sizes: dict[uuid.UUID, list[tuple[str, str | None, int | None, int | None]]] = defaultdict(list)
    posters: dict[uuid.UUID, Picture] = {}
    for asset_id, fmt, sha, width, height in rows:
        if fmt == POSTER:
            posters[asset_id] = Picture(content_url(asset_id, fmt, None, sha), width, height)
        else:
            sizes[asset_id].append((fmt, sha, width, height))
    found = {asset_id: _picture(asset_id, found) for asset_id, found in sizes.items()}
    return {**found, **posters}


def _files(fmt: FormatObject) -> list[StoredFile]:
    return [file for file_set in fmt.file_sets for file in file_set.files]


def _probe(technical: dict[str, Any]) -> dict[str, Any]:
    """The original's technical metadata as a page shows it: the plain values, streams apart."""
    return {
        name: value
        for name, value in technical.items()
        if value not in (None, "", [], {}) and not isinstance(value, dict | list)
    }


def asset_media(detail: AssetDetail) -> AssetMedia:
    """Gather the URLs and lists the asset page needs from the asset's graph."""
    by_name = {fmt.name: fmt for fmt in detail.formats}

    def url_of(fmt: FormatObject, file: StoredFile, several: bool) -> str:
        return content_url(detail.id, fmt.name, file.name if several else None, file.sha256)

    downloads = [
        Download(
            format=fmt.name,
            name=file.name,
            size=file.size,
            content_type=file.content_type,
            width=file.width,
            height=file.height,
            duration_s=file.duration_s,
            url=url_of(fmt, file, len(_files(fmt)) > 1),
        )
        for fmt in detail.formats
        for file in _files(fmt)
    ]

    def single(name: str) -> str | None:
        fmt = by_name.get(name)
        files = _files(fmt) if fmt else []
        return url_of(fmt, files[0], False) if fmt and files else None

    sizes = [
        (fmt.name, files[0].sha256, files[0].width, files[0].height)
        for fmt in detail.formats
        if fmt.name.startswith(SIZE_PREFIX) and (files := _files(fmt))
    ]
    keyframes = by_name.get(KEYFRAMES)
    sheets = [f for f in _files(keyframes) if not f.name.endswith(".vtt")] if keyframes else []
    vtt = [f for f in _files(keyframes) if f.name.endswith(".vtt")] if keyframes else []
    original = by_name.get(ORIGINAL)
    return AssetMedia(
        original=single(ORIGINAL),
        picture=_picture(detail.id, sizes, PAGE_EDGE) if sizes else None,
        poster=single(POSTER),
        proxy=single(PROXY),
        keyframes_vtt=url_of(keyframes, vtt[0], True) if keyframes and vtt else None,
        sprite_urls={sheet.key: url_of(keyframes, sheet, True) for sheet in sheets if keyframes},
        waveform=single(WAVEFORM),
        probe=_probe(original.technical) if original else {},
        streams=[
            _probe(stream)
            for stream in (original.technical.get("streams") or [] if original else [])
            if isinstance(stream, dict)
        ],
        downloads=downloads,
    )

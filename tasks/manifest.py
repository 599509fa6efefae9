"""Read a batch manifest: CSV or JSON Lines from a path or URL, or an S3 prefix as a drop folder.

Items stream out one at a time, so a manifest of any size is never held in
memory. A line that cannot be read becomes an entry carrying its error
("line N: ..."), and reading goes on.

- CSV: a header row naming the columns (``source`` required; ``project``,
  ``identifier``, ``title``, ``description``, ``category``, ``tags``,
  ``external_id`` optional); tags separated by ``;`` or ``|``.
- JSON Lines: one object per line with the same fields; tags a list or a string.
- ``s3://bucket/prefix/``: every object below the prefix is an item whose
  source is ``s3://bucket/key`` and whose identifier is the key.
  ``s3://bucket/path/manifest.csv`` (a manifest suffix) is read as a manifest.

Local manifests are read only below ``settings.local_roots``, like local
sources; http(s) manifests go through the same guarded fetch as sources.
"""

from __future__ import annotations

import csv
import io
import json
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import chain
from pathlib import Path, PurePosixPath
from typing import IO, Any, Literal
from urllib.parse import urlsplit

from pydantic import ValidationError

from core.errors import InvalidSource
from core.redact import normalise_source, redact_source
from core.requests import AssetRequest
from core.settings import Settings
from storage import open_store
from tasks.fetch import fetch_source
from tasks.local_fetch import open_local

ManifestFormat = Literal["csv", "jsonl"]

_SUFFIX_FORMATS: dict[str, ManifestFormat] = {
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
}
_TAG_SEPARATORS = re.compile(r"[;|]")
_FIELDS = frozenset(AssetRequest.model_fields)


@dataclass(frozen=True)
class ManifestEntry:
    """One item of a manifest: the request it asks for, or why its line could not be read."""

    # The line in the manifest (the object's position for a drop folder), from 1.
    line: int
    request: AssetRequest | None
    error: str | None = None


def read_manifest(
    location: str, *, settings: Settings, project: str = "default"
) -> Iterator[ManifestEntry]:
    """Yield the entries of the manifest at ``location``, one at a time.

    ``project`` is the project of items that name none. A manifest that
    cannot be opened at all raises an ``IngestError``; a bad line is yielded
    as an entry with its error.
    """
    location = normalise_source(location)
    if is_drop_folder(location):
        yield from _drop_folder(location, settings=settings, project=project)
        return
    with _open_text(location, settings=settings) as text:
        lines = iter(text)
        first = next(lines, None)
        if first is None:
            return
        kind = _manifest_format(location) or ("jsonl" if first.lstrip().startswith("{") else "csv")
        parse = _csv_entries if kind == "csv" else _jsonl_entries
        yield from parse(chain([first], lines), project=project, shown=redact_source(location))


def is_drop_folder(location: str) -> bool:
    """Tell whether a manifest location is an S3 prefix (a drop folder), not a manifest file."""
    location = normalise_source(location)
    return urlsplit(location).scheme.lower() == "s3" and _manifest_format(location) is None


def _manifest_format(location: str) -> ManifestFormat | None:
    suffix = PurePosixPath(urlsplit(location).path).suffix.lower()
    return _SUFFIX_FORMATS.get(suffix)


@contextmanager
def _open_text(location: str, *, settings: Settings) -> Iterator[IO[str]]:
    """Open the manifest as text, streaming: local files in place, remote ones via a temp file."""
    scheme = urlsplit(location).scheme.lower()
    if scheme in ("http", "https", "s3"):
        with tempfile.TemporaryDirectory(
            prefix="assetflow-manifest-", dir=settings.temp_dir
        ) as tmp:
            fetched = fetch_source(location, dest_dir=Path(tmp), settings=settings)
            with fetched.path.open("rb") as raw:
                yield _decode(raw)
        return
    with open_local(location, settings=settings) as stream:
        yield _decode(io.BufferedReader(_ChunkReader(stream.chunks)))


def _decode(raw: IO[bytes]) -> IO[str]:
    # utf-8-sig: spreadsheets save CSV with a byte order mark. newline="": csv
    # handles line ends itself (quoted fields may hold newlines).
    return io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace", newline="")


class _ChunkReader(io.RawIOBase):
    """A raw binary stream over an iterator of byte chunks."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        super().__init__()
        self._chunks = chunks
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._pending = memoryview(chunk)
        count = min(len(buffer), len(self._pending))
        buffer[:count] = self._pending[:count]
        self._pending = self._pending[count:]  # a view: the chunk is not copied
        return count


def _csv_entries(lines: Iterator[str], *, project: str, shown: str) -> Iterator[ManifestEntry]:
    reader = csv.reader(lines)
    header = next(reader, None)
    columns = [name.strip().lower() for name in header or []]
    if "source" not in columns:
        raise InvalidSource(
            f"manifest {shown} has no 'source' column in its header row "
            f"(found: {', '.join(columns) or 'nothing'})"
        )
    for fields in reader:
        line = reader.line_num  # the line the row ends on (quoted fields may span lines)
        if not any(field.strip() for field in fields):
            continue
        if len(fields) != len(columns):
            yield _failed(line, f"{len(fields)} fields where the header has {len(columns)}")
            continue
        values = {
            name: value for name, value in zip(columns, fields, strict=True) if name in _FIELDS
        }
        yield _entry(line, values, project=project)


def _jsonl_entries(lines: Iterator[str], *, project: str, shown: str) -> Iterator[ManifestEntry]:
    for line, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            values = json.loads(text)
        except json.JSONDecodeError as exc:
            yield _failed(line, f"invalid JSON ({exc.msg}, column {exc.colno})")
            continue
        if not isinstance(values, dict):
            yield _failed(line, f"expected a JSON object, got {type(values).__name__}")
            continue
        yield _entry(line, values, project=project)


def _entry(line: int, values: dict[str, Any], *, project: str) -> ManifestEntry:
    """Validate one item's fields into a request; blank strings count as absent."""
    cleaned = {
        name: value.strip() if isinstance(value, str) else value
        for name, value in values.items()
        if name in _FIELDS and value is not None
    }
    cleaned = {name: value for name, value in cleaned.items() if value != ""}
    if isinstance(cleaned.get("tags"), str):
        cleaned["tags"] = [
            tag.strip() for tag in _TAG_SEPARATORS.split(cleaned["tags"]) if tag.strip()
        ]
    if not cleaned.get("source"):
        return _failed(line, "no source")
    cleaned.setdefault("project", project)
    try:
        return ManifestEntry(line, AssetRequest.model_validate(cleaned))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
            for error in exc.errors()
        )
        return _failed(line, problems)


def _failed(line: int, reason: str) -> ManifestEntry:
    return ManifestEntry(line, None, f"line {line}: {reason}")


def _drop_folder(location: str, *, settings: Settings, project: str) -> Iterator[ManifestEntry]:
    """Yield one entry per object below an ``s3://bucket/prefix`` location."""
    parts = urlsplit(location)
    if not parts.netloc:
        raise InvalidSource(f"drop folder {location} names no bucket: use s3://bucket/prefix/")
    store = open_store(settings.model_copy(update={"storage_url": f"s3://{parts.netloc}"}))
    number = 0
    for key in store.iter_keys(parts.path.lstrip("/")):
        if key.endswith("/"):  # a folder marker some S3 clients write, not an object
            continue
        number += 1
        request = AssetRequest(source=f"s3://{parts.netloc}/{key}", project=project, identifier=key)
        yield ManifestEntry(number, request)

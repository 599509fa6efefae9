"""Reading manifests: CSV and JSON Lines from files, URLs and S3, and S3 drop folders."""

from __future__ import annotations

import io
import json
import tracemalloc
import uuid
from pathlib import Path

import pytest

from core.errors import ForbiddenSource, InvalidSource, SourceNotFound
from core.settings import Settings
from tasks.manifest import ManifestEntry, read_manifest
from tests.fixtures.http_server import LocalHTTPServer, ServeFile, Status
from tests.fixtures.seaweed import S3Server


def _read(path: Path, text: str, settings: Settings, **kwargs: str) -> list[ManifestEntry]:
    path.write_text(text, encoding="utf-8")
    return list(read_manifest(str(path), settings=settings, **kwargs))


def test_csv_rows_become_requests_with_their_fields_and_tags(
    tmp_path: Path, fetch_settings: Settings
) -> None:
    text = (
        "\ufeffSource,Project,Identifier,Title,Description,Category,Tags\n"
        'http://example.com/a.jpg,press,a-1,Sunrise,"two\nlines",photo,dawn; sky\n'
        "\n"
        "http://example.com/b.jpg,,,,,,x|y|z\n"
    )

    entries = _read(tmp_path / "items.csv", text, fetch_settings, project="archive")

    assert [entry.error for entry in entries] == [None, None]
    first, second = (entry.request for entry in entries)
    assert first is not None and second is not None
    assert (first.source, first.project, first.identifier, first.title) == (
        "http://example.com/a.jpg",
        "press",
        "a-1",
        "Sunrise",
    )
    assert (first.description, first.category, first.tags) == (
        "two\nlines",
        "photo",
        ["dawn", "sky"],
    )
    # Blank fields are not given: empty.
    assert (second.project, second.identifier, second.title, second.tags) == (
        "archive",
        "",
        "",
        ["x", "y", "z"],
    )
    # The quoted field spans lines 2-3, the blank line 4 is skipped: b is on line 5.
    assert [entry.line for entry in entries] == [3, 5]


def test_a_bad_csv_row_is_an_entry_with_its_line_and_reading_goes_on(
    tmp_path: Path, fetch_settings: Settings
) -> None:
    text = "source,identifier\nhttp://x/1,one\nhttp://x/2,two,extra\n,three\nhttp://x/4,four\n"

    entries = _read(tmp_path / "items.csv", text, fetch_settings)

    assert [(e.line, e.error) for e in entries] == [
        (2, None),
        (3, "line 3: 3 fields where the header has 2"),
        (4, "line 4: no source"),
        (5, None),
    ]


def test_a_csv_without_a_source_column_is_refused_whole(
    tmp_path: Path, fetch_settings: Settings
) -> None:
    with pytest.raises(InvalidSource, match=r"no 'source' column.*found: url, name"):
        _read(tmp_path / "items.csv", "url,name\nhttp://x/1,one\n", fetch_settings)


def test_json_lines_take_tags_as_a_list_or_a_string_and_report_bad_lines(
    tmp_path: Path, fetch_settings: Settings
) -> None:
    lines = [
        json.dumps({"source": "s3://b/k1", "identifier": "k1", "tags": ["a", "b"], "extra": 1}),
        "",
        '{"source": "s3://b/k2", ',
        json.dumps(["not", "an", "object"]),
        json.dumps({"source": "s3://b/k3", "tags": "c|d"}),
        json.dumps({"source": "s3://b/k4", "title": {"nested": True}}),
    ]

    entries = _read(tmp_path / "items.jsonl", "\n".join(lines), fetch_settings)

    assert [(e.line, e.request is not None) for e in entries] == [
        (1, True),
        (3, False),
        (4, False),
        (5, True),
        (6, False),
    ]
    assert entries[0].request is not None and entries[0].request.tags == ["a", "b"]
    assert entries[3].request is not None and entries[3].request.tags == ["c", "d"]
    assert str(entries[1].error).startswith("line 3: invalid JSON (")
    assert entries[2].error == "line 4: expected a JSON object, got list"
    assert str(entries[4].error).startswith("line 6: title: ")


def test_the_format_is_sniffed_when_the_name_does_not_tell(
    tmp_path: Path, fetch_settings: Settings
) -> None:
    jsonl = _read(tmp_path / "jsonl.txt", '{"source": "http://x/1"}\n', fetch_settings)
    csv = _read(tmp_path / "csv.txt", "source\nhttp://x/2\n", fetch_settings)

    assert [e.request.source for e in jsonl + csv if e.request] == ["http://x/1", "http://x/2"]


def test_a_local_manifest_outside_the_roots_is_refused(
    tmp_path: Path, fetch_settings: Settings
) -> None:
    outside = tmp_path.parent / f"{uuid.uuid4().hex}.csv"
    outside.write_text("source\nhttp://x/1\n")
    try:
        with pytest.raises(ForbiddenSource, match="outside the local roots"):
            list(read_manifest(str(outside), settings=fetch_settings))
    finally:
        outside.unlink()


def test_a_big_manifest_streams_in_bounded_memory(tmp_path: Path, fetch_settings: Settings) -> None:
    path = tmp_path / "big.jsonl"
    line = json.dumps({"source": "http://example.com/" + "p" * 150, "tags": ["t"] * 5}) + "\n"
    count = 40_000
    path.write_text(line * count)  # about 8 MB

    tracemalloc.start()
    try:
        seen = sum(
            1 for entry in read_manifest(str(path), settings=fetch_settings) if entry.request
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert seen == count
    # What stays is one source chunk (1 MiB) and its read buffer, whatever the file's size.
    assert peak < 4 * 1024 * 1024, f"peak {peak} bytes for an {path.stat().st_size} byte manifest"


def test_a_manifest_served_over_http_is_fetched_through_the_guard(
    tmp_path: Path, fetch_settings: Settings, http_server: LocalHTTPServer
) -> None:
    path = tmp_path / "served.csv"
    path.write_text("source,identifier\nhttp://x/1,one\n")
    url = http_server.route(f"/{uuid.uuid4().hex}/m.csv", ServeFile(path, "text/csv"))
    gone = http_server.route(f"/{uuid.uuid4().hex}/m.csv", Status(404))

    entries = list(read_manifest(url, settings=fetch_settings))
    assert [e.request.identifier for e in entries if e.request] == ["one"]
    with pytest.raises(SourceNotFound, match="404"):
        list(read_manifest(gone, settings=fetch_settings))
    # The same server by a name the settings do not allow is refused.
    blocked = fetch_settings.model_copy(update={"allowed_networks": []})
    with pytest.raises(ForbiddenSource):
        list(read_manifest(url, settings=blocked))


def test_an_s3_prefix_is_a_drop_folder_of_its_objects(
    s3_server: S3Server, s3_settings: Settings, s3_bucket: str
) -> None:
    client = s3_server.client()
    for key in ("incoming/a.jpg", "incoming/sub/b.mp4", "incoming/", "elsewhere/c.jpg"):
        client.put_object(s3_bucket, key, io.BytesIO(b"x"), 1)
    manifest = b'{"source": "s3://other/k", "identifier": "from-manifest"}\n'
    client.put_object(s3_bucket, "lists/m.jsonl", io.BytesIO(manifest), len(manifest))

    dropped = list(read_manifest(f"s3://{s3_bucket}/incoming/", settings=s3_settings, project="p"))
    listed = list(read_manifest(f"s3://{s3_bucket}/lists/m.jsonl", settings=s3_settings))

    assert sorted(
        (e.request.source, e.request.identifier, e.request.project) for e in dropped if e.request
    ) == [
        (f"s3://{s3_bucket}/incoming/a.jpg", "incoming/a.jpg", "p"),
        (f"s3://{s3_bucket}/incoming/sub/b.mp4", "incoming/sub/b.mp4", "p"),
    ]
    assert [e.request.identifier for e in listed if e.request] == ["from-manifest"]

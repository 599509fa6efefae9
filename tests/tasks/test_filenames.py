"""Filenames taken from headers and URLs are reduced to safe basenames."""

from __future__ import annotations

import pytest

from tasks.filenames import (
    filename_from_disposition,
    filename_from_url_path,
    safe_filename,
    suffix_of,
)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ('attachment; filename="clip one.mp4"', "clip one.mp4"),
        ("attachment; filename=plain.jpg", "plain.jpg"),
        ("attachment; filename*=UTF-8''%E2%82%AC%20rates.pdf", "€ rates.pdf"),
        # RFC 6266: filename* wins whichever comes first
        ("attachment; filename=\"a.jpg\"; filename*=UTF-8''b.jpg", "b.jpg"),
        ("attachment; filename*=UTF-8''b.jpg; filename=\"a.jpg\"", "b.jpg"),
        ('attachment; filename="../../etc/passwd"', "passwd"),
        ('attachment; filename="C:\\\\Users\\\\x\\\\evil.exe"', "evil.exe"),
        ('attachment; filename=".."', None),
        ("inline", None),
        (None, None),
    ],
)
def test_filename_from_disposition(header: str | None, expected: str | None) -> None:
    assert filename_from_disposition(header) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a\x00b\nc.txt", "abc.txt"),
        ("...hidden", "hidden"),
        ("a...b..c", "a.b.c"),
        ("/", None),
        ("é" * 200, "é" * 127),
        ("", None),
    ],
)
def test_safe_filename(name: str, expected: str | None) -> None:
    assert safe_filename(name) == expected


def test_filename_from_url_path_decodes_the_last_segment() -> None:
    assert filename_from_url_path("/a/b/My%20Movie.MOV") == "My Movie.MOV"
    assert filename_from_url_path("/a/b/%2e%2e%2fetc%2fpasswd") == "passwd"
    assert filename_from_url_path("/") is None


@pytest.mark.parametrize(
    ("name", "suffix"),
    [
        ("x.MP4", ".mp4"),
        ("archive.tar.gz", ".gz"),
        (".bashrc", ""),
        ("noext", ""),
        ("weird.ext with space", ""),
        (None, ""),
    ],
)
def test_suffix_of(name: str | None, suffix: str) -> None:
    assert suffix_of(name) == suffix

"""Content types come from the bytes, whatever the name or the header claims."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from PIL import Image

from core.errors import UnsupportedMedia
from core.kinds import AssetKind
from tasks.sniff import Sniffed, check_declared_media, sniff_bytes, sniff_file


@pytest.mark.parametrize(
    ("pillow_format", "content_type"),
    [
        ("JPEG", "image/jpeg"),
        ("PNG", "image/png"),
        ("GIF", "image/gif"),
        ("WEBP", "image/webp"),
        ("TIFF", "image/tiff"),
        ("BMP", "image/bmp"),
    ],
)
def test_images_are_known_by_their_bytes_not_their_name(
    tmp_path: Path, pillow_format: str, content_type: str
) -> None:
    path = tmp_path / "misleading.txt"
    Image.new("RGB", (8, 8), "red").save(path, pillow_format)
    sniffed = sniff_file(path, declared_type="text/plain")
    assert (sniffed.content_type, sniffed.kind) == (content_type, AssetKind.IMAGE)


@pytest.mark.parametrize(
    ("extension", "codec_args", "content_type", "kind"),
    [
        ("mp4", ["-c:v", "libx264"], "video/mp4", AssetKind.VIDEO),
        ("mov", ["-c:v", "libx264"], "video/quicktime", AssetKind.VIDEO),
        ("webm", ["-c:v", "libvpx-vp9"], "video/webm", AssetKind.VIDEO),
        ("mkv", ["-c:v", "libx264"], "video/x-matroska", AssetKind.VIDEO),
        ("wav", ["-vn"], "audio/wav", AssetKind.AUDIO),
        ("flac", ["-vn"], "audio/flac", AssetKind.AUDIO),
        ("mp3", ["-vn"], "audio/mpeg", AssetKind.AUDIO),
        ("ogg", ["-vn", "-c:a", "libopus"], "audio/ogg", AssetKind.AUDIO),
        ("m4a", ["-vn", "-c:a", "aac"], "audio/mp4", AssetKind.AUDIO),
    ],
)
def test_audio_and_video_containers(
    tmp_path: Path, extension: str, codec_args: list[str], content_type: str, kind: AssetKind
) -> None:
    path = tmp_path / f"clip.{extension}"
    subprocess.run(
        [
            "ffmpeg", "-nostdin", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", "testsrc2=size=64x48:rate=10:duration=0.5",
            "-f", "lavfi", "-i", "anoisesrc=d=0.5:a=0.1",
            *codec_args, "-shortest", str(path),
        ],
        check=True,
    )  # fmt: skip
    renamed = path.rename(tmp_path / "upload.bin")  # the name must not matter
    assert sniff_file(renamed) == Sniffed(content_type, kind)


def test_html_served_as_video_is_a_document() -> None:
    sniffed = sniff_bytes(
        b"<!DOCTYPE html><html><body>Not found</body></html>", declared_type="video/mp4"
    )
    assert (sniffed.content_type, sniffed.kind) == ("text/html", AssetKind.DOCUMENT)


def test_pdf_is_a_document_and_unknown_bytes_are_other() -> None:
    assert sniff_bytes(b"%PDF-1.7\n...").kind == AssetKind.DOCUMENT
    assert sniff_bytes(bytes(range(256))) == Sniffed("application/octet-stream", AssetKind.OTHER)


def test_plain_text_keeps_a_declared_text_type_only() -> None:
    assert sniff_bytes(b"a,b\n1,2\n", declared_type="text/csv").content_type == "text/csv"
    assert sniff_bytes(b"hello", declared_type="image/png").content_type == "text/plain"


@pytest.mark.parametrize(
    ("declared", "filename"),
    [("video/mp4", None), ("application/octet-stream", "clip.mp4"), (None, "photo.jpg")],
)
def test_html_claiming_to_be_media_is_refused(declared: str | None, filename: str | None) -> None:
    html = sniff_bytes(b"<html><body>Please log in</body></html>")
    with pytest.raises(UnsupportedMedia, match=r"claims to be .* but its bytes are an HTML page"):
        check_declared_media(html, declared_type=declared, filename=filename)


def test_a_real_document_under_its_own_type_is_kept() -> None:
    pdf = sniff_bytes(b"%PDF-1.7\n")
    check_declared_media(pdf, declared_type="application/pdf", filename="report.pdf")
    check_declared_media(pdf, declared_type=None, filename=None)

"""Content types come from the bytes, whatever the name or the header claims."""

from __future__ import annotations

import random
import struct
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from core.errors import UnsupportedMedia
from core.kinds import AssetKind
from tasks.sniff import HLS_PLAYLIST, Sniffed, check_declared_media, sniff_file
from tests.fixtures.av_media import make_audio, make_video, run_ffmpeg
from tests.fixtures.hostile_media import id3_then_playlist, playlist_then_frames


def _sniff(tmp_path: Path, data: bytes, **claims: str | None) -> Sniffed:
    path = tmp_path / "upload.bin"
    path.write_bytes(data)
    return sniff_file(path, **claims)


@pytest.mark.parametrize(
    ("pillow_format", "mode", "content_type"),
    [
        ("JPEG", "RGB", "image/jpeg"),
        ("PNG", "RGB", "image/png"),
        ("GIF", "P", "image/gif"),
        ("WEBP", "RGB", "image/webp"),
        ("TIFF", "RGB", "image/tiff"),
        ("BMP", "RGB", "image/bmp"),
        ("JPEG2000", "RGB", "image/jp2"),
        ("ICO", "RGBA", "image/vnd.microsoft.icon"),
        ("PPM", "RGB", "image/x-portable-pixmap"),
        ("PCX", "RGB", "image/x-pcx"),
        ("SGI", "RGB", "image/sgi"),
        ("XBM", "1", "image/xbm"),
        ("IM", "RGB", "image/x-im"),
        ("DDS", "RGBA", "image/x-dds"),
        ("QOI", "RGB", "image/x-qoi"),
        ("BLP", "P", "image/x-blp"),
    ],
)
def test_images_are_known_by_their_bytes_not_their_name(
    tmp_path: Path, pillow_format: str, mode: str, content_type: str
) -> None:
    path = tmp_path / "misleading.txt"
    Image.new(mode, (8, 8)).save(path, pillow_format)
    sniffed = sniff_file(path, declared_type="text/plain")
    assert (sniffed.content_type, sniffed.kind) == (content_type, AssetKind.IMAGE)
    assert sniffed.claimed_type == "text/plain"


@pytest.mark.parametrize(
    ("extension", "codec_args", "content_type", "kind"),
    [
        ("mp4", ["-c:v", "libx264"], "video/mp4", AssetKind.VIDEO),
        ("mov", ["-c:v", "libx264"], "video/quicktime", AssetKind.VIDEO),
        ("webm", ["-c:v", "libvpx-vp9"], "video/webm", AssetKind.VIDEO),
        ("mkv", ["-c:v", "libx264"], "video/x-matroska", AssetKind.VIDEO),
        ("ts", ["-c:v", "mpeg2video", "-f", "mpegts"], "video/mp2t", AssetKind.VIDEO),
        ("wav", ["-vn"], "audio/wav", AssetKind.AUDIO),
        ("flac", ["-vn"], "audio/flac", AssetKind.AUDIO),
        ("mp3", ["-vn"], "audio/mpeg", AssetKind.AUDIO),
        ("ogg", ["-vn", "-c:a", "libopus"], "audio/ogg", AssetKind.AUDIO),
        ("m4a", ["-vn", "-c:a", "aac"], "audio/mp4", AssetKind.AUDIO),
        # An MP4 holding sound only is audio, whatever its brand says.
        ("mp4", ["-vn", "-c:a", "aac", "-brand", "isom"], "audio/mp4", AssetKind.AUDIO),
    ],
)
def test_audio_and_video_containers(
    tmp_path: Path, extension: str, codec_args: list[str], content_type: str, kind: AssetKind
) -> None:
    path = tmp_path / f"clip.{extension}"
    run_ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=size=64x48:rate=10:duration=0.5",
        "-f", "lavfi", "-i", "anoisesrc=d=0.5:a=0.1",
        *codec_args, "-shortest", str(path),
    )  # fmt: skip
    renamed = path.rename(tmp_path / "upload.bin")  # the name must not matter
    sniffed = sniff_file(renamed)
    assert (sniffed.content_type, sniffed.kind) == (content_type, kind)


def test_audio_with_cover_art_is_audio(tmp_path: Path) -> None:
    sound = make_audio(tmp_path / "a.wav", seconds=0.5)
    cover = tmp_path / "cover.jpg"
    Image.new("RGB", (64, 64), "red").save(cover)
    path = tmp_path / "song.mp3"
    run_ffmpeg(
        "-i", str(sound), "-i", str(cover), "-map", "0:a", "-map", "1:v",
        "-c:v", "mjpeg", "-disposition:v", "attached_pic", str(path),
    )  # fmt: skip
    assert sniff_file(path).kind == AssetKind.AUDIO


def test_a_video_without_sound_is_video(tmp_path: Path) -> None:
    path = make_video(tmp_path / "silent.mkv", seconds=0.5, width=64, height=48, audio=False)
    assert sniff_file(path).kind == AssetKind.VIDEO


def test_svg_and_pdf(tmp_path: Path) -> None:
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"/>'
    assert (_sniff(tmp_path, svg).content_type, _sniff(tmp_path, svg).kind) == (
        "image/svg+xml",
        AssetKind.IMAGE,
    )
    assert _sniff(tmp_path, b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n").kind == AssetKind.DOCUMENT


def test_unknown_bytes_are_other_and_never_refused(tmp_path: Path) -> None:
    noise = random.Random(7).randbytes(1024)
    sniffed = _sniff(tmp_path, noise, declared_type="image/vnd.adobe.photoshop", filename="a.psd")
    assert (sniffed.content_type, sniffed.kind) == ("application/octet-stream", AssetKind.OTHER)
    assert (sniffed.claimed_type, sniffed.certain) == ("image/vnd.adobe.photoshop", False)
    check_declared_media(sniffed)  # unknown is no contradiction


def test_a_real_image_under_a_name_the_table_lacks_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "texture.dds"
    Image.new("RGBA", (8, 8), "blue").save(path, "DDS")
    sniffed = sniff_file(path, declared_type="application/x-whatever", filename="texture.dds")
    check_declared_media(sniffed)
    assert sniffed.kind == AssetKind.IMAGE


def test_plain_text_keeps_a_declared_text_type_only(tmp_path: Path) -> None:
    assert _sniff(tmp_path, b"a,b\n1,2\n", declared_type="text/csv").content_type == "text/csv"
    assert _sniff(tmp_path, b"hello", declared_type="image/png").content_type == "text/plain"


@pytest.mark.parametrize(
    ("declared", "filename"),
    [("video/mp4", None), ("application/octet-stream", "clip.mp4"), (None, "photo.jpg"),
     ("application/pdf", None)],
)  # fmt: skip
def test_html_claiming_to_be_media_is_refused(
    tmp_path: Path, declared: str | None, filename: str | None
) -> None:
    html = _sniff(
        tmp_path, b"<html><body>Please log in</body></html>", declared_type=declared,
        filename=filename,
    )  # fmt: skip
    with pytest.raises(UnsupportedMedia, match=r"claims to be .* but its bytes are an HTML page"):
        check_declared_media(html)


def test_text_claiming_to_be_an_image_is_refused(tmp_path: Path) -> None:
    text = _sniff(tmp_path, b"meeting notes\n" * 10, declared_type="image/png")
    with pytest.raises(
        UnsupportedMedia, match="claims to be image/png but its bytes are text/plain"
    ):
        check_declared_media(text)


def test_media_of_another_kind_than_claimed_is_taken_as_it_is(tmp_path: Path) -> None:
    # Image hosts serve MP4s under .gif names; the bytes decide.
    path = make_video(tmp_path / "loop.mp4", seconds=0.5, width=64, height=48, audio=False)
    sniffed = sniff_file(path, declared_type="image/gif", filename="loop.gif")
    check_declared_media(sniffed)
    assert (sniffed.kind, sniffed.claimed_type) == (AssetKind.VIDEO, "image/gif")


def test_a_real_document_under_its_own_type_is_kept(tmp_path: Path) -> None:
    pdf = _sniff(tmp_path, b"%PDF-1.7\n", declared_type="application/pdf", filename="report.pdf")
    check_declared_media(pdf)
    assert pdf.as_metadata() == {"claimed_type": "application/pdf", "recognised_by": "libmagic"}


def test_a_tiff_header_that_is_no_raw_is_not_taken_for_one(tmp_path: Path) -> None:
    path = tmp_path / "scan.tif"
    Image.new("RGB", (8, 8)).save(path, "TIFF")
    assert sniff_file(path).content_type == "image/tiff"


def test_pillow_judges_what_libmagic_does_not_know(tmp_path: Path) -> None:
    # SGI's magic is two bytes libmagic's table lacks.
    path = tmp_path / "x.rgb"
    Image.new("RGB", (8, 8)).save(path, "SGI")
    sniffed = sniff_file(path)
    assert (sniffed.kind, sniffed.recognised_by) == (AssetKind.IMAGE, "pillow")


def test_what_only_looks_like_a_tga_contradicts_no_claim(tmp_path: Path) -> None:
    # A TGA has no signature; libmagic guesses one for bytes like these, which
    # Pillow cannot read: kept as other, and a claim they contradict is not refused.
    counting = bytes(range(256)) * 4
    sniffed = _sniff(tmp_path, counting, declared_type="image/png")
    assert (sniffed.kind, sniffed.certain) == (AssetKind.OTHER, False)
    check_declared_media(sniffed)


def test_a_real_tga_is_an_image(tmp_path: Path) -> None:
    header = struct.pack("<BBBHHBHHHHBB", 0, 0, 2, 0, 0, 0, 0, 0, 2, 2, 24, 0)
    sniffed = _sniff(tmp_path, header + b"\x10" * 12)
    assert (sniffed.content_type, sniffed.kind) == ("image/x-tga", AssetKind.IMAGE)


@pytest.mark.parametrize(
    "make", [id3_then_playlist, playlist_then_frames], ids=["ID3 then HLS", "HLS then MP3 frames"]
)
def test_a_playlist_is_a_playlist_behind_an_id3_tag_or_before_frames(
    tmp_path: Path, make: Callable[[Path, Path], Path]
) -> None:
    # ffprobe skips an ID3 tag, or ignores the frames after the list, and
    # reads an HLS playlist, whose demuxer opens the files it names.
    playlist = make(tmp_path / "song.mp3", tmp_path / "elsewhere.ts")

    sniffed = sniff_file(playlist, filename="song.mp3")

    assert (sniffed.content_type, sniffed.kind) == (HLS_PLAYLIST, AssetKind.DOCUMENT)
    with pytest.raises(
        UnsupportedMedia, match=f"claims to be audio/mpeg but its bytes are {HLS_PLAYLIST}"
    ):
        check_declared_media(sniffed)

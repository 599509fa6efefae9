"""Sniff a file's content type from its bytes and classify the asset kind.

The header a server sends and the name a user gives are hints at best; the
first bytes decide. Only when the bytes say nothing recognisable (plain text,
an unknown binary) does a declared type break the tie, and then only towards
"document" or "other", never towards a media kind a decoder would choke on.
"""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from pathlib import Path

from core.errors import UnsupportedMedia
from core.kinds import AssetKind

# Enough for every signature below, including an MP4 'ftyp' box and an
# Ogg page's codec header.
SNIFF_BYTES = 4096

# ISO base media 'ftyp' major/compatible brands, by what they hold.
_IMAGE_BRANDS = {
    b"heic": "image/heic",
    b"heix": "image/heic",
    b"heim": "image/heic",
    b"heis": "image/heic",
    b"mif1": "image/heif",
    b"msf1": "image/heif",
    b"avif": "image/avif",
    b"avis": "image/avif",
}
_AUDIO_BRANDS = {b"M4A ": "audio/mp4", b"M4B ": "audio/mp4", b"F4A ": "audio/mp4"}
_QUICKTIME_BRAND = b"qt  "


@dataclass(frozen=True)
class Sniffed:
    """What the bytes are: a MIME type and the asset kind it implies."""

    content_type: str
    kind: AssetKind


def sniff_file(path: Path, *, declared_type: str | None = None) -> Sniffed:
    """Read the head of a file and tell its content type and kind."""
    with path.open("rb") as stream:
        head = stream.read(SNIFF_BYTES)
    return sniff_bytes(head, declared_type=declared_type)


def sniff_bytes(head: bytes, *, declared_type: str | None = None) -> Sniffed:
    """Tell the content type and kind from the first bytes of a file."""
    content_type = _match_signature(head)
    if content_type is not None:
        return Sniffed(content_type, _kind_of(content_type))
    if _looks_like_text(head):
        declared = (declared_type or "").split(";")[0].strip().lower()
        text_type = declared if declared.startswith("text/") else "text/plain"
        return Sniffed(text_type, AssetKind.DOCUMENT)
    return Sniffed("application/octet-stream", AssetKind.OTHER)


def check_declared_media(
    sniffed: Sniffed, *, declared_type: str | None, filename: str | None
) -> None:
    """Refuse bytes that are not the media their header or name claims.

    An HTML login or error page served as ``video/mp4`` (or named ``.mp4``) is
    a failed download, not a document to keep: say so instead of storing it.
    """
    claimed = (declared_type or "").split(";")[0].strip().lower()
    if not claimed.startswith(_MEDIA_MAJORS) and filename:
        claimed = mimetypes.guess_type(filename)[0] or ""
    if claimed.startswith(_MEDIA_MAJORS) and sniffed.kind not in _MEDIA_KINDS:
        what = "an HTML page" if sniffed.content_type == "text/html" else sniffed.content_type
        raise UnsupportedMedia(f"the source claims to be {claimed} but its bytes are {what}")


_MEDIA_MAJORS = ("image/", "video/", "audio/")
_MEDIA_KINDS = {AssetKind.IMAGE, AssetKind.VIDEO, AssetKind.AUDIO}


def _kind_of(content_type: str) -> AssetKind:
    major = content_type.split("/", 1)[0]
    if major in ("image", "video", "audio"):
        return AssetKind(major)
    if content_type in _DOCUMENT_TYPES:
        return AssetKind.DOCUMENT
    return AssetKind.OTHER


_DOCUMENT_TYPES = {"application/pdf", "application/zip", "text/html", "application/xml"}


def _match_signature(head: bytes) -> str | None:
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "image/tiff"
    if head.startswith(b"BM") and len(head) > 14:
        return "image/bmp"
    if head[4:8] == b"ftyp":
        return _iso_media_type(head)
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm" if b"webm" in head[:64] else "video/x-matroska"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "video/x-msvideo"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio/wav"
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return "audio/aiff"
    if head.startswith(b"fLaC"):
        return "audio/flac"
    if head.startswith(b"OggS"):
        return "video/ogg" if b"theora" in head[:256] else "audio/ogg"
    if head.startswith(b"ID3") or _is_mpeg_audio_frame(head):
        return "audio/mpeg"
    if len(head) > 1 and head[0] == 0xFF and head[1] & 0xF6 == 0xF0:
        return "audio/aac"
    if head[:4] == b"\x00\x00\x01\xba" or (head[:1] == b"G" and head[188:189] == b"G"):
        return "video/mp2t" if head[:1] == b"G" else "video/mpeg"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"PK\x03\x04"):
        return "application/zip"
    stripped = head.lstrip().lower()
    if stripped.startswith((b"<!doctype html", b"<html")):
        return "text/html"
    if stripped.startswith(b"<?xml") and b"<svg" in stripped:
        return "image/svg+xml"
    return None


def _iso_media_type(head: bytes) -> str:
    """Tell an ISO base media file (MP4, MOV, HEIF, AVIF, M4A) by its brands."""
    box_size = int.from_bytes(head[:4], "big")
    brands = [head[8:12]] + [
        head[offset : offset + 4] for offset in range(16, min(box_size, len(head)), 4)
    ]
    for brand in brands:
        if brand in _IMAGE_BRANDS:
            return _IMAGE_BRANDS[brand]
    if brands[0] in _AUDIO_BRANDS:
        return _AUDIO_BRANDS[brands[0]]
    if brands[0] == _QUICKTIME_BRAND:
        return "video/quicktime"
    return "video/mp4"


def _is_mpeg_audio_frame(head: bytes) -> bool:
    """Tell an MPEG audio frame header (MP3 without an ID3 tag)."""
    if len(head) < 4 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return False
    layer = (head[1] >> 1) & 0x3
    bitrate_index = head[2] >> 4
    sample_rate_index = (head[2] >> 2) & 0x3
    return layer != 0 and bitrate_index not in (0, 15) and sample_rate_index != 3


def _looks_like_text(head: bytes) -> bool:
    if not head or b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut by the sniff window is still text.
        return exc.start >= len(head) - 4
    return True

"""Recognise a file from its bytes: libmagic first, the decoders as judges where it is unsure.

The header a server sends and the name a user gives are claims: kept beside
what the bytes show, and checked against it. Only a positive contradiction
(an HTML page served as a video, a text file named ``.png``) is refused;
bytes nothing recognises are stored as ``other``, never refused for that.

    libmagic says                then
    image/svg+xml                an image (rasterised by resvg)
    image/tiff, a RAW type       libraw decides whether it is a camera RAW
    another image/*              Pillow must open its header, else it is ``other``
    video/*, audio/*             ffprobe tells video from audio (cover art is not video)
    application/octet-stream     Pillow's header, then ffprobe; else ``other``
    text/plain                   Pillow's header (XBM is text); else a text document
    anything else                its type, as a document or ``other``
"""

from __future__ import annotations

import json
import mimetypes
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from PIL import Image, UnidentifiedImageError

from core.errors import MediaTimeout, UnsupportedMedia
from core.kinds import AssetKind
from tasks.images.limits import (
    DEFAULT_MAX_DECODED_BYTES,
    DEFAULT_MAX_PIXELS,
    check_icon_entries,
    sniff_format,
)
from tasks.images.raw import camera_raw_type, may_be_raw
from tasks.libmagic import HEAD_BYTES, OCTET_STREAM, libmagic_type
from tasks.media_command import run_ffprobe

Judge = Literal["libmagic", "pillow", "libraw", "ffprobe", "text", "nothing"]

_TEXT = "text/plain"
# libmagic's fallbacks: what it says when no signature matched.
_UNSURE = frozenset({OCTET_STREAM, _TEXT, "application/x-empty", "inode/x-empty"})
_DOCUMENT_TYPES = frozenset(
    {"application/pdf", "application/zip", "application/xml", "application/json",
     "application/postscript", "application/rtf", "application/epub+zip"}
)  # fmt: skip
_MEDIA_KINDS = frozenset({AssetKind.IMAGE, AssetKind.VIDEO, AssetKind.AUDIO})
_SVG = "image/svg+xml"
# Pillow opens these headers but cannot decode their pixels here (no WMF
# handler on Linux, no Ghostscript): they are kept as ``other``.
_HEADER_ONLY_FORMATS = frozenset({"WMF", "EMF", "EPS"})
# Pillow's TGA reader has no signature to check, so arbitrary bytes can pass
# its header test: trust it only when the source says TGA too.
_WEAK_SIGNATURES = {"TGA": "image/x-tga"}
# Claims that say nothing about the content.
_NO_CLAIM = frozenset({"", OCTET_STREAM, "binary/octet-stream", "application/x-download"})
# An HLS playlist names other files for a player to fetch: it is a text
# document, never media. ffmpeg skips an ID3v2 tag before it probes, so a
# playlist behind one is a playlist all the same.
HLS_PLAYLIST = "application/vnd.apple.mpegurl"
_HLS_SIGNATURE = b"#EXTM3U"
_ID3_HEADER_BYTES = 10
_ID3_FOOTER_FLAG = 0x10
# Registered names of what ffprobe's demuxers read, where the demuxer's own name is not one.
_CONTAINER_TYPES = {
    "mpegts": "video/mp2t",
    "mpeg": "video/mpeg",
    "matroska": "video/x-matroska",
    "avi": "video/x-msvideo",
    "flv": "video/x-flv",
    "asf": "video/x-ms-asf",
    "wav": "audio/wav",
    "aiff": "audio/aiff",
    "flac": "audio/flac",
    "mp3": "audio/mpeg",
    "ogg": "audio/ogg",
    "caf": "audio/x-caf",
    "wv": "audio/x-wavpack",
}


@dataclass(frozen=True)
class Sniffed:
    """What the bytes are (a MIME type and the asset kind), and what the source claimed."""

    content_type: str
    kind: AssetKind
    # The type the header or the file name claimed, when either named one.
    claimed_type: str | None = None
    # False for bytes nothing recognised: they can contradict no claim.
    certain: bool = True
    recognised_by: Judge = "libmagic"

    def as_metadata(self) -> dict[str, Any]:
        """Return what to record on the ORIGINAL format beside the content type."""
        return {"claimed_type": self.claimed_type, "recognised_by": self.recognised_by}


def claimed_type(declared_type: str | None, filename: str | None) -> str | None:
    """Name the type the source claims: its declared type, else what its name suggests."""
    declared = (declared_type or "").split(";")[0].strip().lower()
    if declared not in _NO_CLAIM:
        return declared
    guessed = mimetypes.guess_type(filename)[0] if filename else None
    return guessed.lower() if guessed else None


def sniff_file(
    path: Path, *, declared_type: str | None = None, filename: str | None = None
) -> Sniffed:
    """Tell a file's content type and kind from its bytes, keeping what the source claimed."""
    claimed = claimed_type(declared_type, filename)
    with path.open("rb") as stream:
        head = stream.read(HEAD_BYTES)
    return replace(_recognise(path, head, claimed), claimed_type=claimed)


def check_declared_media(sniffed: Sniffed) -> None:
    """Refuse bytes that are certainly not what their header or name claims.

    An HTML login or error page served as ``video/mp4`` (or named ``.mp4``) is
    a failed download, not a document to keep: say so instead of storing it.
    Media of another kind than claimed (audio in a ``.mp4``, a video served as
    a ``.gif``) is taken for what it is; unknown bytes contradict nothing.
    """
    claimed = sniffed.claimed_type
    if not claimed or not sniffed.certain:
        return
    is_html = sniffed.content_type == "text/html"
    if is_html and not claimed.startswith(("text/", "application/xhtml")):
        what = "an HTML page"
    elif _kind_of(claimed) in _MEDIA_KINDS and sniffed.kind not in _MEDIA_KINDS:
        what = "an HTML page" if is_html else sniffed.content_type
    else:
        return
    raise UnsupportedMedia(f"the source claims to be {claimed} but its bytes are {what}")


def _recognise(path: Path, head: bytes, claimed: str | None) -> Sniffed:
    if not head:
        return Sniffed(OCTET_STREAM, AssetKind.OTHER, certain=False, recognised_by="nothing")
    if _is_hls_playlist(head):
        return Sniffed(HLS_PLAYLIST, AssetKind.DOCUMENT, recognised_by="text")
    told = libmagic_type(head)
    if told == _SVG:
        return Sniffed(told, AssetKind.IMAGE)
    if told.startswith(("video/", "audio/")):
        return _judge_media(path, told) or Sniffed(told, _kind_of(told))
    if may_be_raw(path, head, told):
        raw = camera_raw_type(path, told=told, claimed=claimed)
        if raw is not None:
            return Sniffed(raw, AssetKind.IMAGE, recognised_by="libraw")
    if told.startswith("image/") or told in _UNSURE:
        image = _judge_pillow(path, told, claimed)
        if image is not None:
            return image
    if told == _TEXT:
        declared = claimed if claimed and claimed.startswith("text/") else _TEXT
        return Sniffed(declared, AssetKind.DOCUMENT, recognised_by="text")
    if told in _UNSURE:
        media = _judge_media(path, None)
        if media is not None:
            return media
        return Sniffed(OCTET_STREAM, AssetKind.OTHER, certain=False, recognised_by="nothing")
    if told.startswith("image/"):
        # libmagic's guess, which no decoder here confirms: GIMP's XCF, OpenEXR,
        # or bytes that only look like a weak signature (TGA's). Not certain
        # enough to contradict a claim.
        return Sniffed(told, AssetKind.OTHER, certain=False)
    return Sniffed(told, _kind_of(told))


def _is_hls_playlist(head: bytes) -> bool:
    """Tell whether the bytes are an HLS playlist, behind an ID3v2 tag or not."""
    if head.startswith(b"ID3") and len(head) >= _ID3_HEADER_BYTES:
        size = 0
        for byte in head[6:10]:  # a syncsafe integer: 7 bits a byte
            size = size << 7 | (byte & 0x7F)
        footer = _ID3_HEADER_BYTES if head[5] & _ID3_FOOTER_FLAG else 0
        head = head[_ID3_HEADER_BYTES + size + footer :]
    return head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(_HLS_SIGNATURE)


def _kind_of(content_type: str) -> AssetKind:
    major = content_type.split("/", 1)[0]
    if major in ("image", "video", "audio"):
        return AssetKind(major)
    if major == "text" or content_type in _DOCUMENT_TYPES:
        return AssetKind.DOCUMENT
    return AssetKind.OTHER


def _judge_pillow(path: Path, told: str, claimed: str | None) -> Sniffed | None:
    """Ask Pillow whether it opens the header; name the type it reads, if it does."""
    if not _opens_safely(path):
        # An icon too large to decode: Pillow would decode it while opening it. It is
        # an image all the same, which the image step refuses with a sentence.
        return Sniffed(told, AssetKind.IMAGE, recognised_by="pillow")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                fmt = img.format or ""
    except Image.DecompressionBombError:
        # An image, too large to decode: the image step refuses it with a sentence.
        if told == OCTET_STREAM:
            return None
        return Sniffed(told, AssetKind.IMAGE, recognised_by="pillow")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
        return None
    if fmt in _HEADER_ONLY_FORMATS:
        return None
    weak = _WEAK_SIGNATURES.get(fmt)
    if weak is not None and weak not in (told, claimed):
        return None
    if told.startswith("image/"):
        return Sniffed(told, AssetKind.IMAGE, recognised_by="pillow")
    content_type = Image.MIME.get(fmt) or f"image/x-{fmt.lower()}"
    return Sniffed(content_type, AssetKind.IMAGE, recognised_by="pillow")


def _opens_safely(path: Path) -> bool:
    """Tell whether Pillow may open the file: not an icon too large to decode (see limits)."""
    with path.open("rb") as fh:
        if sniff_format(fh.read(16)) not in ("ICO", "CUR"):
            return True
        try:
            check_icon_entries(
                fh, max_pixels=DEFAULT_MAX_PIXELS, max_decoded_bytes=DEFAULT_MAX_DECODED_BYTES
            )
        except UnsupportedMedia:
            return False
    return True


def _judge_media(path: Path, told: str | None) -> Sniffed | None:
    """Ask ffprobe whether the bytes hold video or audio; None when they hold neither."""
    found = ffprobe_streams(path)
    if found is None:
        return None
    container, streams = found
    moving = [s for s in streams if s.get("codec_type") == "video" and not _is_cover(s)]
    if moving:
        kind = AssetKind.VIDEO
    elif any(s.get("codec_type") == "audio" for s in streams):
        kind = AssetKind.AUDIO
    else:
        return None
    if told is None:
        told = _CONTAINER_TYPES.get(container) or f"{kind.value}/x-{container}"
    major, _, minor = told.partition("/")
    if major != kind.value:
        # video/mp4 holding sound only is audio/mp4; an Ogg with Theora is video/ogg.
        told = f"{kind.value}/{minor}"
    return Sniffed(told, kind, recognised_by="ffprobe")


def _is_cover(stream: dict[str, Any]) -> bool:
    return bool(stream.get("disposition", {}).get("attached_pic"))


def ffprobe_streams(path: Path) -> tuple[str, list[dict[str, Any]]] | None:
    """Probe a file's container and streams with the guarded ffprobe; None if it reads neither.

    Only the file itself may be opened, only by a self-contained demuxer (no
    playlist or concat demuxer can name a second input), within a time limit:
    see tasks/media_command.py.
    """
    entries = "format=format_name:stream=codec_type:stream_disposition=attached_pic"
    try:
        done = run_ffprobe(path, show=["-show_entries", entries])
    except MediaTimeout:
        return None
    if done.returncode != 0:
        return None
    try:
        report = json.loads(done.stdout or "{}")
    except json.JSONDecodeError:
        return None
    container = str(report.get("format", {}).get("format_name", "")).split(",")[0]
    streams = report.get("streams") or []
    return (container, streams) if container and streams else None

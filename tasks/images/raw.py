"""Camera RAW through libraw (rawpy): recognise it, read its shot, make a picture of it.

The picture is the embedded preview when it is at least as large as the
largest size asked for (what the camera rendered, and no demosaic to pay),
else a demosaic at half size or full size, whichever is the smallest still
large enough. libraw's orientation is applied either way.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import rawpy
from PIL import Image, TiffImagePlugin

from core.errors import CorruptMedia, UnsupportedMedia
from tasks.images.rendered import Rendered
from tasks.libmagic import OCTET_STREAM

# The registered (or customary) types of camera RAW files, by extension.
RAW_TYPES_BY_EXTENSION = {
    ".dng": "image/x-adobe-dng",
    ".cr2": "image/x-canon-cr2",
    ".cr3": "image/x-canon-cr3",
    ".crw": "image/x-canon-crw",
    ".nef": "image/x-nikon-nef",
    ".nrw": "image/x-nikon-nrw",
    ".arw": "image/x-sony-arw",
    ".raf": "image/x-fuji-raf",
    ".orf": "image/x-olympus-orf",
    ".rw2": "image/x-panasonic-rw2",
    ".pef": "image/x-pentax-pef",
    ".srw": "image/x-samsung-srw",
    ".x3f": "image/x-x3f",
    ".mrw": "image/x-minolta-mrw",
}
RAW_CONTENT_TYPES = frozenset(RAW_TYPES_BY_EXTENSION.values())
_DNG = "image/x-adobe-dng"
# Generic "some camera's RAW", as shared-mime-info names the parent of them all.
_RAW = "image/x-dcraw"

_DNG_VERSION_TAG = 50706
_MAKE, _MODEL, _EXIF_IFD = 271, 272, 34665
_LENS_MODEL, _DATETIME_ORIGINAL, _ISO = 42036, 36867, 34855
_EXIF_TIME = "%Y:%m:%d %H:%M:%S"
# Headers libmagic does not name, but libraw reads.
_SIGNATURES = ((b"ftypcrx ", 4, "image/x-canon-cr3"), (b"IIU\x00", 0, "image/x-panasonic-rw2"))

# libraw's flip code -> the transposition that shows the picture upright.
_FLIPS = {
    3: Image.Transpose.ROTATE_180,
    5: Image.Transpose.ROTATE_90,
    6: Image.Transpose.ROTATE_270,
}
# ... and the EXIF orientation it stands for, as the probe reports it.
_ORIENTATIONS = {0: 1, 3: 3, 5: 8, 6: 6}


def may_be_raw(path: Path, head: bytes, told: str) -> bool:
    """Tell whether a file is worth asking libraw about: TIFF-like, or named a RAW.

    libraw recognises some formats by their size alone, which arbitrary bytes
    could match: it is asked only about these.
    """
    if told == "image/tiff" or told in RAW_CONTENT_TYPES:
        return True
    if any(head[o : o + len(sig)] == sig for sig, o, _ in _SIGNATURES):
        return True
    return told == OCTET_STREAM and path.suffix.lower() in RAW_TYPES_BY_EXTENSION


def camera_raw_type(path: Path, *, told: str, claimed: str | None) -> str | None:
    """Name the camera RAW type of a file libraw reads; None when it is not one."""
    try:
        with rawpy.imread(str(path)):
            pass
    except (rawpy.LibRawError, OSError):
        return None
    if told in RAW_CONTENT_TYPES:
        return told
    with path.open("rb") as fh:
        head = fh.read(16)
        if _tiff_tags(fh, head).get(_DNG_VERSION_TAG) is not None:
            return _DNG
    for signature, offset, content_type in _SIGNATURES:
        if head[offset : offset + len(signature)] == signature:
            return content_type
    by_name = RAW_TYPES_BY_EXTENSION.get(path.suffix.lower())
    if by_name is not None:
        return by_name
    return claimed if claimed in RAW_CONTENT_TYPES else _RAW


def _tiff_tags(fh: BinaryIO, head: bytes) -> dict[int, Any]:
    """Read the first directory of a TIFF-structured file (and its Exif directory)."""
    if head[:2] not in (b"II", b"MM"):
        return {}
    try:
        ifd = TiffImagePlugin.ImageFileDirectory_v2(head[:8])
        fh.seek(ifd.next)
        ifd.load(fh)
        tags = dict(ifd)
        exif_offset = tags.get(_EXIF_IFD)
        if isinstance(exif_offset, int):
            exif = TiffImagePlugin.ImageFileDirectory_v2(head[:8])
            fh.seek(exif_offset)
            exif.load(fh)
            tags.update(exif)
        return tags
    except (OSError, ValueError, SyntaxError, struct.error):
        return {}


@contextmanager
def _libraw_errors(path: Path) -> Iterator[None]:
    try:
        yield
    except rawpy.LibRawFileUnsupportedError as exc:
        raise UnsupportedMedia(f"not a camera RAW file libraw reads: {path.name}") from exc
    except (rawpy.LibRawError, OSError) as exc:
        reason = exc.args[0] if exc.args else type(exc).__name__
        if isinstance(reason, bytes):  # libraw's messages arrive as bytes
            reason = reason.decode("utf-8", "replace")
        raise CorruptMedia(f"camera RAW does not decode: {reason}") from exc


def raw_format_name(content_type: str) -> str:
    """Name a RAW type as the probe reports formats: DNG, CR2, NEF ... (RAW when unknown)."""
    for extension, known in RAW_TYPES_BY_EXTENSION.items():
        if known == content_type:
            return extension[1:].upper()
    return "RAW"


def decode_raw(path: Path, *, content_type: str, edge: int, max_pixels: int) -> Rendered:
    """Return an upright RGB picture of a RAW file and what the camera recorded of the shot.

    The picture's longest side is at least ``edge`` when the sensor has that many pixels.
    """
    with _libraw_errors(path), rawpy.imread(str(path)) as raw:
        sizes = raw.sizes
        if sizes.raw_width * sizes.raw_height > max_pixels:
            raise UnsupportedMedia(
                f"image too large: the sensor holds {sizes.raw_width}x{sizes.raw_height} "
                f"pixels, above the limit of {max_pixels}"
            )
        picture = _preview(raw, edge) or _demosaic(raw, edge)
        shot = _shot(raw, path)
        quarter_turn = sizes.flip in (5, 6)
    width, height = (sizes.height, sizes.width) if quarter_turn else (sizes.width, sizes.height)
    return Rendered(picture, raw_format_name(content_type), width, height, shot)


def _preview(raw: rawpy.RawPy, edge: int) -> Image.Image | None:
    """Return the embedded preview, upright, when it is at least ``edge`` on its longest side."""
    try:
        thumb = raw.extract_thumb()
    except (rawpy.LibRawNoThumbnailError, rawpy.LibRawUnsupportedThumbnailError):
        return None
    if isinstance(thumb.data, bytes):  # a JPEG; a bitmap comes as an array
        with Image.open(io.BytesIO(thumb.data)) as img:
            if max(img.size) < edge:
                return None
            img.draft("RGB", (edge, edge))
            picture = img.convert("RGB")
    else:
        picture = Image.fromarray(thumb.data)
        if max(picture.size) < edge:
            return None
    flip = _FLIPS.get(raw.sizes.flip)
    return picture.transpose(flip) if flip is not None else picture


def _demosaic(raw: rawpy.RawPy, edge: int) -> Image.Image:
    """Demosaic at half size when that is still ``edge`` long, else at full size."""
    half = max(raw.sizes.width, raw.sizes.height) // 2 >= edge
    rgb = raw.postprocess(half_size=half, use_camera_wb=True, output_bps=8)
    return Image.fromarray(rgb, "RGB")


def _shot(raw: rawpy.RawPy, path: Path) -> dict[str, Any]:
    """Read the camera, lens, exposure and capture time; absent values are left out."""
    with path.open("rb") as fh:
        tags = _tiff_tags(fh, fh.read(16))
    other, lens = raw.other, raw.lens
    camera = " ".join(str(tags[t]).strip("\0 ") for t in (_MAKE, _MODEL) if tags.get(t))
    captured = _capture_time(other.timestamp, tags.get(_DATETIME_ORIGINAL))
    shot: dict[str, Any] = {
        "camera": camera or None,
        "lens": lens.model or tags.get(_LENS_MODEL) or None,
        "exposure_time_s": _rounded(other.shutter_speed),
        "f_number": _rounded(other.aperture),
        "iso": _rounded(other.iso_speed) or _first_number(tags.get(_ISO)),
        "focal_length_mm": _rounded(other.focal_length),
        "captured_at": captured,
        "raw_orientation": _ORIENTATIONS.get(raw.sizes.flip, 1),
        "sensor_width": raw.sizes.raw_width,
        "sensor_height": raw.sizes.raw_height,
    }
    return {key: value for key, value in shot.items() if value is not None}


def _rounded(value: float) -> float | None:
    """Drop libraw's float noise (0.004000000189989805 s); None for the 0 it gives when unknown."""
    return float(f"{value:.6g}") if value else None


def _first_number(value: object) -> float | None:
    if isinstance(value, tuple) and value:
        value = value[0]
    return float(value) if isinstance(value, int | float) and value else None


def _capture_time(timestamp: datetime, tagged: object) -> str | None:
    """Prefer the EXIF DateTimeOriginal (camera-local time, no zone); libraw's otherwise."""
    if isinstance(tagged, str):
        try:
            return datetime.strptime(tagged.strip("\0 "), _EXIF_TIME).isoformat()
        except ValueError:
            pass
    if timestamp.replace(tzinfo=UTC).timestamp() > 0:
        return timestamp.isoformat()
    return None

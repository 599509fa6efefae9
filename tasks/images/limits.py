"""Open images safely: refuse empty files, broken PNG chunks and decompression bombs.

Every Pillow failure is translated here into the error tree of ``core.errors``,
so a caller sees ``EmptySource``, ``UnsupportedMedia`` or ``CorruptMedia`` with
a message that names the problem, never a bare ``OSError``.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import pillow_heif
from PIL import Image, ImageFile, UnidentifiedImageError

from core.errors import CorruptMedia, EmptySource, SourceNotFound, UnsupportedMedia

# 100 MP: more than any camera sensor sold today (a 12 MP photo is 12, a 61 MP
# full-frame raw is 61); above it, a decoded RGBA copy alone would take 400 MB.
DEFAULT_MAX_PIXELS = 100_000_000

# What one image's pixels may take in memory while it is decoded and resized.
# With the interpreter, Pillow, numpy and the hashing libraries (about 120 MiB)
# this keeps an image ingest under 512 MiB (tests/tasks/images/test_memory.py).
DEFAULT_MAX_DECODED_BYTES = 256 * 1024 * 1024
# Bytes per pixel in Pillow's memory: RGB is stored in 4 bytes (as RGBX), 1-bit in 1.
_BYTES_PER_PIXEL = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16B": 2, "I;16L": 2, "I;16N": 2}
_WIDEST_PIXEL = 4
# The one working copy the resize path makes at the decoded size (a mode
# conversion, or the premultiplied copy Pillow resizes alpha through).
_WORKING_COPY_BYTES_PER_PIXEL = 4

# A partial image must never look complete: a truncated file is an error, not
# a picture with a grey bottom half. Pillow's default is False; say it anyway,
# since any other import may flip this process-wide flag.
ImageFile.LOAD_TRUNCATED_IMAGES = False

# HEIF/HEIC through libheif; Pillow itself reads AVIF, so the AVIF opener stays off.
pillow_heif.register_heif_opener()

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_MAGIC = (
    (b"\xff\xd8\xff", "JPEG"),
    (_PNG_SIGNATURE, "PNG"),
    (b"GIF8", "GIF"),
    (b"RIFF", "WEBP"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"BM", "BMP"),
    (b"\0\0\1\0", "ICO"),
    (b"\0\0\2\0", "CUR"),
)


def sniff_format(head: bytes) -> str | None:
    """Name the image format the first bytes claim, if they claim one."""
    for magic, name in _MAGIC:
        if head.startswith(magic):
            return name
    if head[4:8] == b"ftyp":
        return "AVIF" if head[8:12] in (b"avif", b"avis") else "HEIF"
    return None


def check_pixels(width: int, height: int, *, max_pixels: int) -> None:
    """Refuse an image whose pixel count is above ``max_pixels``."""
    if width * height > max_pixels:
        raise UnsupportedMedia(
            f"image too large: {width}x{height} is {width * height / 1e6:.1f} MP, "
            f"above the limit of {max_pixels / 1e6:.1f} MP ({max_pixels} pixels)"
        )


def decoded_bytes(width: int, height: int, mode: str, *, frames_held: int = 1) -> int:
    """Estimate a decode's memory: pixels x bytes per pixel x frames held, and a working copy."""
    per_pixel = _BYTES_PER_PIXEL.get(mode, _WIDEST_PIXEL) * frames_held
    return width * height * (per_pixel + _WORKING_COPY_BYTES_PER_PIXEL)


def check_decoded_bytes(img: Image.Image, *, max_decoded_bytes: int) -> None:
    """Refuse to decode an opened image whose pixels would take more than the limit.

    Call it after ``draft()``, which shrinks what a JPEG decodes to. An animated
    image's decoder holds the previous frame too.
    """
    frames = 2 if getattr(img, "is_animated", False) else 1
    needed = decoded_bytes(img.width, img.height, img.mode, frames_held=frames)
    if needed > max_decoded_bytes:
        raise UnsupportedMedia(
            f"image too large to decode: {img.width}x{img.height} in mode {img.mode} "
            f"needs {needed / 2**20:.0f} MiB, above the limit of "
            f"{max_decoded_bytes / 2**20:.0f} MiB"
        )


def check_icon_entries(fh: BinaryIO, *, max_pixels: int, max_decoded_bytes: int) -> None:
    """Refuse an ICO or CUR whose pictures are too large, from their own headers.

    Pillow decodes an icon's largest picture inside ``Image.open``, before any
    check can see its size; and the directory says at most 256x256 while the
    PNG or bitmap it points at may claim anything.
    """
    fh.seek(0)
    header = fh.read(6)
    count = struct.unpack("<H", header[4:6])[0] if len(header) == 6 else 0
    directory = fh.read(16 * count)
    for index in range(len(directory) // 16):
        (offset,) = struct.unpack("<I", directory[16 * index + 12 : 16 * index + 16])
        fh.seek(offset)
        head = fh.read(24)
        if head.startswith(_PNG_SIGNATURE) and len(head) == 24:
            width, height = struct.unpack(">II", head[16:24])
        elif len(head) >= 12:  # BITMAPINFOHEADER: size, width, height (image and mask)
            width, height = (abs(v) for v in struct.unpack("<ii", head[4:12]))
            height //= 2
        else:
            continue
        check_pixels(width, height, max_pixels=max_pixels)
        needed = decoded_bytes(width, height, "RGBA")
        if needed > max_decoded_bytes:
            raise UnsupportedMedia(
                f"image too large to decode: an icon picture of {width}x{height} needs "
                f"{needed / 2**20:.0f} MiB, above the limit of {max_decoded_bytes / 2**20:.0f} MiB"
            )


def check_png_chunks(fh: BinaryIO) -> None:
    """Walk a PNG's chunks and refuse a CRC mismatch or a cut-off file.

    Pillow checks the CRC of header chunks only, so image data with a broken
    CRC would otherwise decode without a word. Reads one chunk at a time.
    """
    pos = fh.seek(len(_PNG_SIGNATURE))
    while len(header := fh.read(8)) == 8:
        length, kind = struct.unpack(">I4s", header)
        body, trailer = fh.read(length), fh.read(4)
        if len(body) < length or len(trailer) < 4:
            break
        if zlib.crc32(body, zlib.crc32(kind)) != struct.unpack(">I", trailer)[0]:
            name = kind.decode("latin-1")
            raise CorruptMedia(f"PNG chunk CRC mismatch in {name} chunk at byte {pos}")
        if kind == b"IEND":
            return
        pos += 12 + length
    raise CorruptMedia("truncated PNG: the file ends before its IEND chunk")


# What Pillow's format plugins raise on a damaged file: besides I/O and value
# errors, a GIF cut inside a frame raises IndexError while counting frames, a
# TIFF page without dimensions TypeError, a missing tag KeyError.
_DECODE_ERRORS = (
    OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError, TypeError, struct.error,
)  # fmt: skip


@contextmanager
def translate_errors(path: Path, fmt: str | None) -> Iterator[None]:
    """Turn Pillow's exceptions raised inside the block into ``core.errors`` types."""
    name = fmt or "image"
    try:
        yield
    except FileNotFoundError as exc:
        raise SourceNotFound(f"no such file: {path}") from exc
    except UnidentifiedImageError as exc:
        raise UnsupportedMedia(f"not an image: Pillow cannot identify {path.name}") from exc
    except Image.DecompressionBombError as exc:
        # Pillow's own guard, on a picture nested in the file (an icon's entry, a frame).
        raise UnsupportedMedia(f"image too large: {exc}") from exc
    except _DECODE_ERRORS as exc:
        # Pillow says "image file is truncated (...)" from the decoder and
        # "Truncated File Read" from a header cut short; libheif ends its
        # messages with a newline.
        reason = " ".join(str(exc).split()) or type(exc).__name__
        if "truncated" in reason.lower():
            raise CorruptMedia(f"truncated {name}: {reason}") from exc
        raise CorruptMedia(f"{name} does not decode: {reason}") from exc


def open_image(
    path: Path,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_decoded_bytes: int = DEFAULT_MAX_DECODED_BYTES,
) -> Image.Image:
    """Open an image and read its header only, refusing bad input before any decoding."""
    with translate_errors(path, None):
        size = path.stat().st_size
    if size == 0:
        raise EmptySource(f"empty file: {path.name} holds 0 bytes")
    with translate_errors(path, None), path.open("rb") as fh:
        fmt = sniff_format(fh.read(16))
        if fmt == "PNG":
            check_png_chunks(fh)
        elif fmt in ("ICO", "CUR"):
            check_icon_entries(fh, max_pixels=max_pixels, max_decoded_bytes=max_decoded_bytes)
    with translate_errors(path, fmt):
        try:
            img = Image.open(path)
        except Image.DecompressionBombError as exc:
            # Pillow's own guard (twice its MAX_IMAGE_PIXELS) fired before ours could.
            raise UnsupportedMedia(
                f"image too large: {exc} (the limit is {max_pixels} pixels)"
            ) from exc
    try:
        check_pixels(img.width, img.height, max_pixels=max_pixels)
    except UnsupportedMedia:
        img.close()
        raise
    return img

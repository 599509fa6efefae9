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
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        # Pillow says "image file is truncated (...)" from the decoder and
        # "Truncated File Read" from a header cut short.
        if "truncated" in str(exc).lower():
            raise CorruptMedia(f"truncated {name}: {exc}") from exc
        raise CorruptMedia(f"{name} does not decode: {exc}") from exc


def open_image(path: Path, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Open an image and read its header only, refusing bad input before any decoding."""
    with translate_errors(path, None):
        size = path.stat().st_size
    if size == 0:
        raise EmptySource(f"empty file: {path.name} holds 0 bytes")
    with translate_errors(path, None), path.open("rb") as fh:
        fmt = sniff_format(fh.read(16))
        if fmt == "PNG":
            check_png_chunks(fh)
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

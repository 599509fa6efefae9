"""Pick an image's decoder by what its bytes are: Pillow, libraw, PDFium or resvg."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from tasks.images.limits import translate_errors
from tasks.images.pdf import render_first_page
from tasks.images.raw import camera_raw_type, decode_raw, may_be_raw
from tasks.images.rendered import Rendered
from tasks.images.svg import render_svg
from tasks.libmagic import HEAD_BYTES, libmagic_type

Decoder = Literal["pillow", "libraw", "pdfium", "resvg"]
_PDF = "application/pdf"
_SVG = "image/svg+xml"


@dataclass(frozen=True)
class Source:
    """Which decoder reads a file, and the content type that chose it."""

    decoder: Decoder
    content_type: str


def picture_source(path: Path) -> Source:
    """Tell which decoder makes a picture of this file."""
    with translate_errors(path, None), path.open("rb") as fh:
        head = fh.read(HEAD_BYTES)
    told = libmagic_type(head)
    if told == _PDF:
        return Source("pdfium", told)
    if told == _SVG:
        return Source("resvg", told)
    if may_be_raw(path, head, told):
        raw = camera_raw_type(path, told=told, claimed=None)
        if raw is not None:
            return Source("libraw", raw)
    return Source("pillow", told)


def renders_as_picture(path: Path) -> bool:
    """Tell whether a document has a page to render (a PDF does; text does not)."""
    return picture_source(path).decoder != "pillow"


def render(path: Path, source: Source, *, edge: int, max_pixels: int) -> Rendered:
    """Make an upright picture of a non-Pillow source, at least ``edge`` long where it can."""
    if source.decoder == "pdfium":
        return render_first_page(path, edge=edge)
    if source.decoder == "resvg":
        return render_svg(path, edge=edge)
    if source.decoder == "libraw":
        return decode_raw(path, content_type=source.content_type, edge=edge, max_pixels=max_pixels)
    raise ValueError(f"{source.decoder} pictures are decoded by tasks.images.sizes")

"""Render a PDF's first page with PDFium (pypdfium2), and read its page count, title, author."""

from __future__ import annotations

import threading
from pathlib import Path

import pypdfium2 as pdfium
from PIL import Image

from core.errors import CorruptMedia, UnsupportedMedia
from tasks.images.rendered import Rendered

# PDFium is not thread-safe, and batch items run on threads: one render at a time.
_PDFIUM = threading.Lock()
# A page this small (in points, 1/72 in) is no page to look at.
_MIN_PAGE_PT = 1.0


def render_first_page(path: Path, *, edge: int) -> Rendered:
    """Render page 1 fitted into ``edge`` x ``edge`` on white; return it and the document's facts.

    Encrypted and broken PDFs raise with a sentence saying which.
    """
    with _PDFIUM:
        try:
            document = pdfium.PdfDocument(str(path))
        except pdfium.PdfiumError as exc:
            raise _refusal(path, exc) from exc
        try:
            return _render(document, edge)
        except pdfium.PdfiumError as exc:
            raise CorruptMedia(f"PDF page 1 does not render: {exc}") from exc
        finally:
            document.close()


def _render(document: pdfium.PdfDocument, edge: int) -> Rendered:
    pages = len(document)
    if pages == 0:
        raise CorruptMedia("PDF has no pages")
    page = document[0]
    try:
        width_pt, height_pt = page.get_size()
        if min(width_pt, height_pt) < _MIN_PAGE_PT:
            raise CorruptMedia(f"PDF page 1 measures {width_pt:g}x{height_pt:g} points")
        scale = edge / max(width_pt, height_pt)
        bitmap = page.render(scale=scale, fill_color=(255, 255, 255, 255))
        picture: Image.Image = bitmap.to_pil().convert("RGB")
    finally:
        page.close()
    metadata = document.get_metadata_dict(skip_empty=True)
    facts = {
        "page_count": pages,
        "title": metadata.get("Title"),
        "author": metadata.get("Author"),
        "page_width_pt": round(width_pt, 2),
        "page_height_pt": round(height_pt, 2),
    }
    return Rendered(picture, "PDF", picture.width, picture.height, facts)


def _refusal(path: Path, exc: pdfium.PdfiumError) -> Exception:
    """Say why PDFium would not open the document."""
    if "password" in str(exc).lower():
        return UnsupportedMedia(f"encrypted PDF: {path.name} needs a password to open")
    return CorruptMedia(f"PDF does not open: {exc}")

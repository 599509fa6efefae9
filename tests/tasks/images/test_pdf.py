"""PDF: the first page becomes the image sizes; the probe has the pages, title and author."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image
from pypdf import PdfReader, PdfWriter

from core.errors import CorruptMedia, UnsupportedMedia
from tests.fixtures.formats import picture
from tests.tasks.images.conftest import Run, near, opened


def _pdf(path: Path) -> Path:
    # Page 1 is landscape with a red corner, page 2 portrait: only page 1 may show.
    pages = [picture(), Image.new("RGB", (20, 60), "blue")]
    pages[0].save(path, "PDF", save_all=True, append_images=pages[1:], title="Q3", author="Ann")
    return path


def test_the_first_page_is_rendered_at_the_largest_size(tmp_path: Path, run: Run) -> None:
    result = run(_pdf(tmp_path / "report.pdf"), edges=(160, 640))

    meta = result.as_metadata()
    assert (meta["format"], meta["page_count"], meta["title"], meta["author"]) == (
        "PDF", 2, "Q3", "Ann",
    )  # fmt: skip
    sizes = opened(result)
    assert [img.size for img in sizes] == [(160, 107), (640, 427)]
    assert near(sizes[-1].convert("RGB").getpixel((60, 60)), (255, 0, 0), tolerance=30)


def test_an_encrypted_pdf_fails_with_a_sentence(tmp_path: Path, run: Run) -> None:
    writer = PdfWriter(clone_from=PdfReader(_pdf(tmp_path / "plain.pdf")))
    writer.encrypt(user_password="secret", algorithm="RC4-128")
    locked = tmp_path / "locked.pdf"
    with locked.open("wb") as fh:
        writer.write(fh)

    with pytest.raises(UnsupportedMedia, match=r"^encrypted PDF: locked\.pdf needs a password"):
        run(locked)


def test_a_broken_pdf_fails_with_a_sentence(tmp_path: Path, run: Run) -> None:
    data = _pdf(tmp_path / "whole.pdf").read_bytes()
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(data[:40] + bytes(200))

    with pytest.raises(CorruptMedia, match=r"^PDF does not open: "):
        run(broken)


def test_a_document_that_is_not_a_pdf_has_no_page(tmp_path: Path) -> None:
    from tasks.images.sources import renders_as_picture

    notes = tmp_path / "notes.txt"
    notes.write_text("not a page\n")
    assert not renders_as_picture(notes)
    assert renders_as_picture(_pdf(tmp_path / "r.pdf"))

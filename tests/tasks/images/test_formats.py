"""Every image format Pillow, libraw, PDFium and resvg read gets the image recipe, colours right."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from tasks.images import process_image
from tests.fixtures.formats import CORPUS, IMAGE_SIZES, Sample
from tests.tasks.images.conftest import Run, alpha, near, opened

PICTURES = [s for s in CORPUS if s.derived == IMAGE_SIZES]
RED = (255, 0, 0)


@pytest.mark.parametrize("sample", PICTURES, ids=lambda s: s.name)
def test_every_picture_format_gets_sizes_hashes_and_a_placeholder(
    sample: Sample, format_corpus: dict[str, Path], tmp_path: Path
) -> None:
    name = sample.name
    result = process_image(format_corpus[name], out_dir=tmp_path)
    assert result.renditions, f"{name}: no sizes"
    assert result.blurhash and result.phash, f"{name}: no placeholder or hash"
    for rendition in result.renditions:
        with Image.open(rendition.path) as img:
            assert (img.format, img.size) == ("WEBP", (rendition.width, rendition.height))


def _largest(run: Run, path: Path) -> Image.Image:
    return opened(run(path))[-1]


@pytest.mark.parametrize(
    "name",
    ["JPEG", "CMYK JPEG", "LAB TIFF", "PSD", "DCX", "BMP", "JPEG 2000 (.jp2)", "TGA", "QOI",
     "SGI", "PPM", "PCX", "IM", "HEIC", "BigTIFF", "multi-page TIFF", "MPO"],
)  # fmt: skip
def test_colours_survive_the_conversion(
    name: str, format_corpus: dict[str, Path], run: Run
) -> None:
    # The corpus pictures have a red square in the top-left corner and a dark bar at the bottom.
    largest = _largest(run, format_corpus[name]).convert("RGB")
    assert near(largest.getpixel((4, 4)), RED, tolerance=40), f"{name}: {largest.getpixel((4, 4))}"
    assert max(largest.getpixel((largest.width // 2, largest.height - 2))) < 60  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "corner"),
    [("PNG with alpha", (40, 4)), ("palette PNG with tRNS", None), ("SVG", (46, 30)),
     ("ICO", None), ("DDS", (40, 4))],
)  # fmt: skip
def test_transparency_is_kept(
    name: str, corner: tuple[int, int] | None, format_corpus: dict[str, Path], run: Run
) -> None:
    largest = _largest(run, format_corpus[name])
    assert largest.mode == "RGBA", name
    if corner is not None:
        x, y = corner
        scaled = (x * largest.width // 48, y * largest.height // 32)
        assert alpha(largest.getpixel(scaled)) < 20, f"{name}: {largest.getpixel(scaled)}"


@pytest.mark.parametrize("name", ["16-bit grey PNG", "float TIFF", "FITS"])
def test_deep_grey_is_scaled_to_eight_bits_not_clipped(
    name: str, format_corpus: dict[str, Path], run: Run
) -> None:
    # A gradient that goes left to right: clipped 16-bit or float values would all be white.
    largest = _largest(run, format_corpus[name]).convert("L")
    middle = largest.height // 2
    left, right = largest.getpixel((1, middle)), largest.getpixel((largest.width - 2, middle))
    assert isinstance(left, int) and isinstance(right, int)
    assert right - left > 50, f"{name}: {left} .. {right}"


@pytest.mark.parametrize("name", ["1-bit PNG", "PBM", "XBM"])
def test_one_bit_images_are_shrunk_smoothly(
    name: str, format_corpus: dict[str, Path], run: Run
) -> None:
    # Shrunk pixel by pixel (nearest), a 1-bit picture stays black and white;
    # shrunk smoothly, its edges turn grey.
    result = run(format_corpus[name], edges=(16,), fmt="jpeg", quality=100)
    (small,) = opened(result)
    greys = [v for v in small.convert("L").getdata() if 70 < v < 185]  # type: ignore[operator]
    assert len(greys) >= 8, f"{name}: only {len(greys)} grey pixels"


def test_an_animation_takes_its_first_frame(format_corpus: dict[str, Path], run: Run) -> None:
    result = run(format_corpus["animated GIF"])
    assert (result.probe.animated, result.probe.frame_count) == (True, 2)
    first = opened(result)[-1].convert("RGB")
    assert near(first.getpixel((4, 4)), RED, tolerance=40)  # the second frame is mirrored

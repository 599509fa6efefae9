"""Helpers shared by the image recipe tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import pytest
from PIL import Image

from tasks.images import ImageOptions, ImageResult, process_image


class Run(Protocol):
    """Process an image with the given ImageOptions fields."""

    def __call__(self, path: Path, **options: Any) -> ImageResult: ...


def near(actual: object, expected: tuple[int, ...], tolerance: int = 6) -> bool:
    """Tell whether a pixel matches ``expected`` channel by channel within ``tolerance``."""
    assert isinstance(actual, tuple), actual
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))


def alpha(pixel: object) -> int:
    """Return the alpha of an RGBA pixel."""
    assert isinstance(pixel, tuple) and len(pixel) == 4, pixel
    return int(pixel[3])


@pytest.fixture
def run(tmp_path: Path) -> Run:
    """Process an image into a fresh out_dir and return the result."""

    def _run(path: Path, **options: Any) -> ImageResult:
        out_dir = tmp_path / f"out-{path.stem}-{len(list(tmp_path.iterdir()))}"
        return process_image(path, out_dir=out_dir, options=ImageOptions(**options))

    return _run


def opened(result: ImageResult) -> list[Image.Image]:
    """Open every rendition of a result, fully loaded."""
    images: list[Image.Image] = []
    for rendition in result.renditions:
        with Image.open(rendition.path) as img:
            img.load()
            images.append(img)
    return images

"""What a decoder other than Pillow's hands the image recipe: a camera RAW, a PDF page, an SVG."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from PIL import Image


@dataclass(frozen=True)
class Rendered:
    """An upright picture (RGB, or RGBA with transparency) and what its decoder learnt."""

    picture: Image.Image
    format: str
    # The original's displayed size; a PDF page or an SVG has none of its own: as rendered.
    width: int
    height: int
    details: dict[str, Any]

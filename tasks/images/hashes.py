"""Perceptual hashes (phash, dhash) of an image as 64-bit integers (compared in core/phash.py)."""

from __future__ import annotations

from dataclasses import dataclass

import imagehash
from PIL import Image

from tasks.images.sizes import fit, flatten

# Hashes are taken from a copy of this longest edge, whatever sizes were asked
# for, so the same picture hashes the same under any options (and 160 px hashes
# in about a millisecond: phash itself works on 32x32, dhash on 9x8).
HASH_EDGE = 160


@dataclass(frozen=True)
class PerceptualHashes:
    """The 64-bit perceptual hashes of one image, as unsigned ints (hex() matches imagehash)."""

    phash: int
    dhash: int


def hash_base(img: Image.Image) -> Image.Image:
    """Return the image to hash: HASH_EDGE at most on its longest side, alpha on white."""
    size = fit(img.width, img.height, HASH_EDGE)
    small = img if img.size == size else img.resize(size, Image.Resampling.LANCZOS)
    return flatten(small)


def perceptual_hashes(img: Image.Image) -> PerceptualHashes:
    """Hash an image (ideally a small rendition) with phash and dhash."""
    base = hash_base(img)
    return PerceptualHashes(
        phash=int(str(imagehash.phash(base)), 16),
        dhash=int(str(imagehash.dhash(base)), 16),
    )

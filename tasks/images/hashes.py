"""Perceptual hashes (phash, dhash) as 64-bit integers, and how to compare them."""

from __future__ import annotations

from dataclasses import dataclass

import imagehash
from PIL import Image

from tasks.images.sizes import fit, flatten

# From bench/phash_threshold.py (48 scenes at 1024x768, 240 variant pairs, 12,408
# distinct pairs): variants (50% resize, JPEG q60, WebP, 3% crop, +10% brightness)
# lie at most 12 bits away (the crop; the rest at most 4), distinct scenes at
# least 18. 12 is the lowest value with full recall there, keeping 6 bits of
# margin against false matches, which real photo sets have more of than scenes.
PHASH_MAX_DISTANCE = 12

# Hashes are taken from a copy of this longest edge, whatever sizes were asked
# for, so the same picture hashes the same under any options (and 160 px hashes
# in about a millisecond: phash itself works on 32x32, dhash on 9x8).
HASH_EDGE = 160

_MASK64 = (1 << 64) - 1
_SIGN64 = 1 << 63


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


def to_int64(value: int) -> int:
    """Map an unsigned 64-bit hash into a signed int64, as a BigInteger column stores it."""
    value &= _MASK64
    return value - (1 << 64) if value & _SIGN64 else value


def from_int64(value: int) -> int:
    """Map a signed int64 read from a database back to the unsigned 64-bit hash."""
    return value & _MASK64


def hamming(a: int, b: int) -> int:
    """Count the differing bits of two 64-bit hashes, signed or unsigned."""
    return ((a ^ b) & _MASK64).bit_count()


def is_near_duplicate(a: int, b: int, *, max_distance: int = PHASH_MAX_DISTANCE) -> bool:
    """Tell whether two phashes are within ``max_distance`` bits of each other."""
    return hamming(a, b) <= max_distance

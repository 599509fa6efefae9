"""A 64-bit perceptual hash as a number: the near-duplicate threshold, the distance between
two hashes, and the signed form a BIGINT column stores.

Plain integer arithmetic, apart from the image code that makes the hashes
(tasks/images/hashes.py), so the similarity search (models/similarity.py)
and ``assetflow similar`` read hashes without loading Pillow or numpy.
"""

from __future__ import annotations

# From bench/phash_threshold.py (48 scenes at 1024x768, 240 variant pairs, 12,408
# distinct pairs): variants (50% resize, JPEG q60, WebP, 3% crop, +10% brightness)
# lie at most 12 bits away (the crop; the rest at most 4), distinct scenes at
# least 18. 12 is the lowest value with full recall there, keeping 6 bits of
# margin against false matches, which real photo sets have more of than scenes.
PHASH_MAX_DISTANCE = 12

_MASK64 = (1 << 64) - 1
_SIGN64 = 1 << 63


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

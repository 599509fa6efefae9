"""The image recipe: probe, web sizes, perceptual hashes and a BlurHash, from one decode."""

from __future__ import annotations

from core.phash import PHASH_MAX_DISTANCE, from_int64, hamming, is_near_duplicate, to_int64
from tasks.images.hashes import PerceptualHashes, perceptual_hashes
from tasks.images.limits import DEFAULT_MAX_PIXELS
from tasks.images.placeholder import blurhash_of
from tasks.images.probe import ImageProbe, probe_image
from tasks.images.process import ImageOptions, ImageResult, process_image
from tasks.images.sizes import Rendition, make_sizes

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "PHASH_MAX_DISTANCE",
    "ImageOptions",
    "ImageProbe",
    "ImageResult",
    "PerceptualHashes",
    "Rendition",
    "blurhash_of",
    "from_int64",
    "hamming",
    "is_near_duplicate",
    "make_sizes",
    "perceptual_hashes",
    "probe_image",
    "process_image",
    "to_int64",
]

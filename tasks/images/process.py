"""The image recipe as one coarse call: decode once, write sizes, hash, blur, probe."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from tasks.images.hashes import HASH_EDGE, perceptual_hashes
from tasks.images.limits import DEFAULT_MAX_DECODED_BYTES, DEFAULT_MAX_PIXELS
from tasks.images.placeholder import DEFAULT_COMPONENTS, blurhash_of
from tasks.images.probe import ImageProbe
from tasks.images.sizes import (
    DEFAULT_EDGES,
    DEFAULT_QUALITY,
    OutputFormat,
    Rendition,
    Sized,
    decode_sizes,
    save_sizes,
)


class ImageOptions(BaseModel):
    """How to derive an image: its sizes, their encoding, the pixel and memory limits."""

    model_config = ConfigDict(frozen=True)

    edges: tuple[int, ...] = Field(default=DEFAULT_EDGES, min_length=1)
    fmt: OutputFormat = "webp"
    quality: int = Field(default=DEFAULT_QUALITY, ge=1, le=100)
    max_pixels: int = Field(default=DEFAULT_MAX_PIXELS, gt=0)
    max_decoded_bytes: int = Field(default=DEFAULT_MAX_DECODED_BYTES, gt=0)
    blurhash_components: tuple[int, int] = DEFAULT_COMPONENTS

    @field_validator("edges")
    @classmethod
    def _positive_edges(cls, edges: tuple[int, ...]) -> tuple[int, ...]:
        if any(edge <= 0 for edge in edges):
            raise ValueError("every edge must be a positive number of pixels")
        return tuple(sorted(set(edges)))

    @field_validator("blurhash_components")
    @classmethod
    def _blurhash_range(cls, components: tuple[int, int]) -> tuple[int, int]:
        if not all(1 <= count <= 9 for count in components):
            raise ValueError("BlurHash takes 1 to 9 components each way")
        return components


@dataclass(frozen=True)
class ImageResult:
    """Everything the image recipe derives from one original."""

    probe: ImageProbe
    renditions: tuple[Rendition, ...]  # smallest first
    phash: int  # unsigned 64-bit; to_int64() for a BigInteger column
    dhash: int
    blurhash: str

    def as_metadata(self) -> dict[str, Any]:
        """Return the probe, hashes and placeholder as a JSON-safe dict (renditions aside)."""
        return {
            **self.probe.as_metadata(),
            "phash": f"{self.phash:016x}",
            "dhash": f"{self.dhash:016x}",
            "blurhash": self.blurhash,
        }


def _hash_source(sizes: list[Sized]) -> Sized:
    """Pick the smallest size still at least HASH_EDGE long (or the largest there is)."""
    large_enough = [s for s in sizes if max(s.image.size) >= HASH_EDGE]
    if large_enough:
        return min(large_enough, key=lambda s: max(s.image.size))
    return max(sizes, key=lambda s: max(s.image.size))


def process_image(path: Path, *, out_dir: Path, options: ImageOptions | None = None) -> ImageResult:
    """Decode an image once; write its sizes into ``out_dir``; hash, blur and probe it.

    ``out_dir`` should be private to this image: files are named ``size-<edge>.<ext>``.
    Raises EmptySource, UnsupportedMedia or CorruptMedia for input it cannot use.
    """
    opts = options or ImageOptions()
    probe, sizes = decode_sizes(
        path,
        edges=opts.edges,
        max_pixels=opts.max_pixels,
        max_decoded_bytes=opts.max_decoded_bytes,
    )
    renditions = save_sizes(sizes, out_dir=out_dir, fmt=opts.fmt, quality=opts.quality)
    source = _hash_source(sizes).image
    hashes = perceptual_hashes(source)
    return ImageResult(
        probe=probe,
        renditions=tuple(renditions),
        phash=hashes.phash,
        dhash=hashes.dhash,
        blurhash=blurhash_of(source, components=opts.blurhash_components),
    )

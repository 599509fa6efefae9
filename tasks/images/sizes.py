"""Make the web sizes of an image: decode once, shrink on load, cascade, encode.

The largest size is decoded with JPEG ``draft()`` (libjpeg's DCT scaling, at
most 2x the target), oriented, converted to sRGB and resized; each smaller
size is resized from the one above it. Every output is stripped of metadata.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, NamedTuple

import numpy as np
from PIL import Image, ImageCms

from tasks.images.limits import (
    DEFAULT_MAX_DECODED_BYTES,
    DEFAULT_MAX_PIXELS,
    check_decoded_bytes,
    open_image,
    translate_errors,
)
from tasks.images.probe import ImageProbe, displayed_size, probe_opened, probe_rendered
from tasks.images.sources import picture_source, render

OutputFormat = Literal["webp", "jpeg", "avif"]

DEFAULT_EDGES: tuple[int, ...] = (160, 320, 640, 1280)
DEFAULT_QUALITY = 80

CONTENT_TYPES: dict[str, str] = {"webp": "image/webp", "jpeg": "image/jpeg", "avif": "image/avif"}
_EXTENSIONS: dict[str, str] = {"webp": "webp", "jpeg": "jpg", "avif": "avif"}

# The transposition that shows a picture stored with EXIF orientation N upright.
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16B", "I;16L", "I;16N"})
_ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})
# Modes Pillow resizes with every filter as they are; a palette or 1-bit
# image would be resized pixel by pixel (nearest), so it is converted first.
_RESIZABLE_MODES = (
    frozenset({"L", "LA", "La", "RGB", "RGBA", "RGBa", "RGBX", "CMYK", "YCbCr", "HSV", "I", "F"})
    | _SIXTEEN_BIT_MODES
)
# Modes a colour transform can take as they are; others are converted first.
_ICC_MODES = frozenset({"RGB", "RGBA", "CMYK"})
_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
_LAB_TO_SRGB = ImageCms.buildTransform(
    ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")), _SRGB, "LAB", "RGB"
)


@dataclass(frozen=True)
class Rendition:
    """One stored size of an image: a file on disk and what it holds."""

    path: Path
    edge: int  # the requested longest edge; the image may be smaller (never upscaled)
    width: int
    height: int
    content_type: str
    size_bytes: int
    sha256: str


class Sized(NamedTuple):
    """A size in memory, before it is encoded."""

    edge: int
    image: Image.Image


def fit(width: int, height: int, edge: int) -> tuple[int, int]:
    """Return the size whose longest side is ``edge``, never larger than the original."""
    longest = max(width, height)
    if longest <= edge:
        return width, height
    scale = edge / longest
    return max(1, round(width * scale)), max(1, round(height * scale))


def plan_sizes(width: int, height: int, edges: Sequence[int]) -> list[tuple[int, tuple[int, int]]]:
    """Map requested edges to output sizes, smallest first, without twins.

    An edge at or above the image's longest side gives the original size; when
    several edges give the same size, only the smallest of them is kept.
    """
    plan: list[tuple[int, tuple[int, int]]] = []
    seen: set[tuple[int, int]] = set()
    for edge in sorted(set(edges)):
        size = fit(width, height, edge)
        if size not in seen:
            seen.add(size)
            plan.append((edge, size))
    return plan


def _before_resize(img: Image.Image) -> Image.Image:
    """Convert what cannot be resized as it is: palettes, 1-bit, colour keys, Lab."""
    if "transparency" in img.info and img.mode not in _ALPHA_MODES:
        return img.convert("RGBA")
    if img.mode == "1":
        return img.convert("L")
    if img.mode == "LAB":
        # a* and b* are signed: averaged as stored bytes they would wrap around.
        converted = ImageCms.applyTransform(img, _LAB_TO_SRGB)
        return converted if converted is not None else img.convert("RGB")
    if img.mode in _RESIZABLE_MODES:
        return img
    return img.convert("RGBA" if img.mode in _ALPHA_MODES else "RGB")


def _to_working_mode(img: Image.Image, *, keep_for_icc: bool) -> Image.Image:
    """Convert resized pixels to RGB or RGBA (or leave them for a colour transform)."""
    if img.mode in ("RGB", "RGBA") or (keep_for_icc and img.mode in _ICC_MODES):
        return img
    if img.mode in _SIXTEEN_BIT_MODES or img.mode in ("I", "F"):
        return _to_eight_bits(img).convert("RGB")
    if img.mode in _ALPHA_MODES:
        return img.convert("RGBA")
    return img.convert("RGB")


def _to_eight_bits(img: Image.Image) -> Image.Image:
    """Scale 16-bit, 32-bit integer or float grey to 8 bits (Pillow would clip, not scale).

    Runs on the resized image, in the source's own width: never through int64.
    """
    pixels = np.asarray(img)
    if img.mode in _SIXTEEN_BIT_MODES:
        eight = (pixels >> 8).astype(np.uint8)
    elif img.mode == "I":
        eight = (np.clip(pixels, 0, 65535) >> 8).astype(np.uint8)
    else:
        # Floats (FITS, TIFF) carry no fixed range: stretch the range they use.
        finite = np.nan_to_num(pixels.astype(np.float32, copy=False))
        low, high = float(finite.min()), float(finite.max())
        scale = 255.0 / (high - low) if high > low else 0.0
        eight = ((finite - low) * scale).astype(np.uint8)
    return Image.fromarray(eight, "L")


def _icc_to_srgb(img: Image.Image, icc: bytes, out_mode: str) -> Image.Image | None:
    """Apply the colour transform from ``icc`` to sRGB, or None if the profile is unusable."""
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        return ImageCms.profileToProfile(img, source, _SRGB, outputMode=out_mode)
    except (ImageCms.PyCMSError, OSError):
        # A profile that does not parse or does not fit the pixels (an RGB
        # image tagged Lab) is ignored, as browsers ignore it.
        return None


def _to_srgb(img: Image.Image, icc: bytes | None) -> Image.Image:
    """Convert pixels described by ``icc`` to sRGB, as RGB or RGBA."""
    out_mode = "RGBA" if img.mode == "RGBA" else "RGB"
    if icc and img.mode in _ICC_MODES:
        converted = _icc_to_srgb(img, icc, out_mode)
        if converted is not None:
            return converted
    return img if img.mode == out_mode else img.convert(out_mode)


def decode_largest(
    img: Image.Image,
    probe: ImageProbe,
    size: tuple[int, int],
    *,
    path: Path,
    max_decoded_bytes: int = DEFAULT_MAX_DECODED_BYTES,
) -> Image.Image:
    """Decode an opened image at ``size`` (displayed orientation): upright, sRGB, RGB(A).

    Only the first frame of an animation (the composite of a layered file) is
    decoded, and only when its pixels fit in ``max_decoded_bytes``.
    """
    icc = img.info.get("icc_profile") or None
    convert_icc = bool(icc) and probe.color_space != "sRGB"
    # The same quarter-turn swap maps a displayed size back to the stored one.
    stored = displayed_size(*size, probe.orientation)
    with translate_errors(path, probe.format):
        # JPEG decodes at 1/2, 1/4 or 1/8 scale straight from the DCT, never below `stored`.
        img.draft(None, stored)
        check_decoded_bytes(img, max_decoded_bytes=max_decoded_bytes)
        img.load()
        work = _before_resize(img)
    if work.size != stored:
        work = work.resize(stored, Image.Resampling.LANCZOS, reducing_gap=3.0)
    if probe.orientation in _TRANSPOSE:
        work = work.transpose(_TRANSPOSE[probe.orientation])
    work = _to_working_mode(work, keep_for_icc=convert_icc)
    return _to_srgb(work, icc if convert_icc else None)


def cascade(largest: Image.Image, plan: Sequence[tuple[int, tuple[int, int]]]) -> list[Sized]:
    """Resize each planned size from the next larger one, largest first."""
    out: list[Sized] = []
    current = largest
    for edge, size in sorted(plan, key=lambda item: -item[0]):
        if current.size != size:
            current = current.resize(size, Image.Resampling.LANCZOS)
        out.append(Sized(edge, current))
    return out


def decode_sizes(
    path: Path,
    *,
    edges: Sequence[int],
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_decoded_bytes: int = DEFAULT_MAX_DECODED_BYTES,
) -> tuple[ImageProbe, list[Sized]]:
    """Probe an image and decode it once into every planned size, largest first.

    A camera RAW, a PDF or an SVG is rendered by its own decoder (a page or a
    drawing at the largest size asked for); everything else by Pillow.
    """
    if not edges:
        raise ValueError("edges must name at least one size")
    source = picture_source(path)
    if source.decoder != "pillow":
        rendered = render(path, source, edge=max(edges), max_pixels=max_pixels)
        plan = plan_sizes(rendered.picture.width, rendered.picture.height, edges)
        return probe_rendered(rendered), cascade(rendered.picture, plan)
    with open_image(path, max_pixels=max_pixels, max_decoded_bytes=max_decoded_bytes) as img:
        with translate_errors(path, img.format):
            probe = probe_opened(img)
        plan = plan_sizes(probe.width, probe.height, edges)
        largest = decode_largest(
            img, probe, plan[-1][1], path=path, max_decoded_bytes=max_decoded_bytes
        )
    return probe, cascade(largest, plan)


def flatten(img: Image.Image, background: tuple[int, int, int] = (255, 255, 255)) -> Image.Image:
    """Composite an RGBA image onto a solid background; return RGB as it is."""
    if img.mode != "RGBA":
        return img
    flat = Image.new("RGB", img.size, background)
    flat.paste(img, mask=img.getchannel("A"))
    return flat


def encode(img: Image.Image, fmt: OutputFormat, quality: int) -> bytes:
    """Encode an RGB(A) image without metadata: no EXIF, no ICC (sRGB is implied)."""
    if fmt == "jpeg":
        img = flatten(img)
    # AVIF's encoder reads a profile from img.info, so drop what resize carried over.
    clean = img.copy()
    clean.info = {}
    buf = io.BytesIO()
    if fmt == "webp":
        clean.save(buf, "WEBP", quality=quality)
    elif fmt == "jpeg":
        clean.save(buf, "JPEG", quality=quality, optimize=True)
    else:
        clean.save(buf, "AVIF", quality=quality)
    return buf.getvalue()


def save_sizes(
    sizes: Sequence[Sized], *, out_dir: Path, fmt: OutputFormat, quality: int
) -> list[Rendition]:
    """Encode each size into ``out_dir/size-<edge>.<ext>``, smallest first."""
    out_dir.mkdir(parents=True, exist_ok=True)
    renditions = []
    for edge, image in sorted(sizes, key=lambda item: item.edge):
        data = encode(image, fmt, quality)
        target = out_dir / f"size-{edge}.{_EXTENSIONS[fmt]}"
        target.write_bytes(data)
        renditions.append(
            Rendition(
                path=target,
                edge=edge,
                width=image.width,
                height=image.height,
                content_type=CONTENT_TYPES[fmt],
                size_bytes=len(data),
                sha256=hashlib.sha256(data).hexdigest(),
            )
        )
    return renditions


def make_sizes(
    path: Path,
    *,
    out_dir: Path,
    edges: Sequence[int] = DEFAULT_EDGES,
    fmt: OutputFormat = "webp",
    quality: int = DEFAULT_QUALITY,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_decoded_bytes: int = DEFAULT_MAX_DECODED_BYTES,
) -> list[Rendition]:
    """Write the web sizes of an image into ``out_dir``, smallest first."""
    _, sizes = decode_sizes(
        path, edges=edges, max_pixels=max_pixels, max_decoded_bytes=max_decoded_bytes
    )
    return save_sizes(sizes, out_dir=out_dir, fmt=fmt, quality=quality)

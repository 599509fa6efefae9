"""Probe an image with Pillow: format, mode, displayed size, orientation, alpha, colour."""

from __future__ import annotations

import io
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image, ImageCms

from tasks.images.limits import DEFAULT_MAX_PIXELS, open_image, translate_errors
from tasks.images.rendered import Rendered

_ORIENTATION_TAG = 0x0112
# EXIF orientations 5-8 turn the picture a quarter: the displayed width is the stored height.
_QUARTER_TURNS = frozenset({5, 6, 7, 8})
_ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})
_GRAY_MODES = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"})
# ICC colour-space signatures (header bytes 16-19) mapped to our names.
_ICC_SPACES = {"RGB": "RGB", "CMYK": "CMYK", "GRAY": "Gray", "LAB": "Lab", "XYZ": "XYZ"}
# Well-known RGB profiles, recognised by their description.
_KNOWN_RGB = (("srgb", "sRGB"), ("display p3", "Display P3"), ("adobe rgb", "Adobe RGB"))


@dataclass(frozen=True)
class ImageProbe:
    """What Pillow says about an original image, as recorded on its ORIGINAL format."""

    format: str
    mode: str
    width: int
    height: int
    orientation: int
    has_alpha: bool
    animated: bool
    frame_count: int
    icc_profile: bool
    icc_description: str | None
    color_space: str
    # What a camera RAW, PDF or SVG decoder adds: the shot, the pages, the title ...
    details: dict[str, Any] = field(default_factory=dict)

    def as_metadata(self) -> dict[str, Any]:
        """Return the probe as a JSON-safe dict, with the decoder's details beside its fields."""
        fields = asdict(self)
        return {**fields.pop("details"), **fields}


def icc_description(icc: bytes) -> str | None:
    """Read an ICC profile's description, or None if the profile does not parse."""
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        return ImageCms.getProfileDescription(profile).strip() or None
    except (ImageCms.PyCMSError, OSError, TypeError):
        return None


def color_space(mode: str, icc: bytes | None) -> str:
    """Name the colour space of pixels in ``mode`` carrying the ``icc`` profile.

    Untagged RGB is taken as sRGB, as browsers do.
    """
    if icc:
        description = (icc_description(icc) or "").lower()
        for needle, name in _KNOWN_RGB:
            if needle in description:
                return name
        signature = icc[16:20].decode("latin-1", "replace").strip().upper()
        if signature in _ICC_SPACES:
            return _ICC_SPACES[signature]
    if mode == "CMYK":
        return "CMYK"
    if mode in _GRAY_MODES:
        return "Gray"
    return "sRGB"


def orientation_of(img: Image.Image) -> int:
    """Return the EXIF orientation tag (1-8), 1 when absent or out of range."""
    if img.format == "PNG":
        # Pillow's PNG getexif() decodes the whole image to look for an eXIf chunk
        # after the pixels, before any size check: read only the one before them.
        exif = Image.Exif()
        if isinstance(raw := img.info.get("exif"), bytes):
            exif.load(raw)
    else:
        exif = img.getexif()
    value = exif.get(_ORIENTATION_TAG, 1)
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def displayed_size(width: int, height: int, orientation: int) -> tuple[int, int]:
    """Return the size after applying an EXIF orientation."""
    return (height, width) if orientation in _QUARTER_TURNS else (width, height)


def probe_opened(img: Image.Image) -> ImageProbe:
    """Probe an image just opened by Pillow, before any draft() or load()."""
    icc = img.info.get("icc_profile") or None
    orientation = orientation_of(img)
    width, height = displayed_size(img.width, img.height, orientation)
    frame_count = int(getattr(img, "n_frames", 1))
    return ImageProbe(
        format=img.format or "unknown",
        mode=img.mode,
        width=width,
        height=height,
        orientation=orientation,
        has_alpha=img.mode in _ALPHA_MODES or "transparency" in img.info,
        animated=bool(getattr(img, "is_animated", False)),
        frame_count=frame_count,
        icc_profile=icc is not None,
        icc_description=icc_description(icc) if icc else None,
        color_space=color_space(img.mode, icc),
    )


def probe_rendered(rendered: Rendered) -> ImageProbe:
    """Probe a picture another decoder made: upright already, and in sRGB."""
    return ImageProbe(
        format=rendered.format,
        mode=rendered.picture.mode,
        width=rendered.width,
        height=rendered.height,
        orientation=1,
        has_alpha=rendered.picture.mode == "RGBA",
        animated=False,
        frame_count=1,
        icc_profile=False,
        icc_description=None,
        color_space="sRGB",
        details=rendered.details,
    )


def probe_image(path: Path, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> ImageProbe:
    """Probe an image file from its header, refusing bad input as ``open_image`` does."""
    with open_image(path, max_pixels=max_pixels) as img, translate_errors(path, img.format):
        return probe_opened(img)

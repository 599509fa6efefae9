"""Rasterise an SVG with resvg, never reading anything but the SVG itself.

resvg fetches nothing over the network, but it does read local files named
by an ``<image href="/any/path.png">`` (absolute or relative to the working
directory), so every reference that is not inside the document (``#id``) or
a raster ``data:`` URI is removed before rendering. The canvas is fitted
into the largest size asked for, whatever size the SVG declares.
"""

from __future__ import annotations

import io
import re
import threading
import xml.etree.ElementTree as ET
from pathlib import Path

import resvg_py
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from PIL import Image

from core.errors import CorruptMedia, UnsupportedMedia
from tasks.images.rendered import Rendered

# An SVG is parsed whole; above this it is refused rather than held in memory.
MAX_SVG_BYTES = 16 * 1024 * 1024
# resvg's default of 0 DPI turns physical units (mm, in, pt) into a size of 0.
_CSS_DPI = 96.0

_SVG_NS = "http://www.w3.org/2000/svg"
_XLINK_NS = "http://www.w3.org/1999/xlink"
_HREFS = ("href", f"{{{_XLINK_NS}}}href")
# References that stay inside the document: a fragment, or a raster image inlined as data.
_INSIDE = re.compile(r"^\s*(#|data:image/(png|jpeg|jpg|gif|webp)[;,])", re.IGNORECASE)
# ElementTree's serialiser names namespaces from this process-wide table.
_NAMESPACES_LOCK = threading.Lock()


def render_svg(path: Path, *, edge: int) -> Rendered:
    """Render an SVG into an RGBA picture fitted into ``edge`` x ``edge``."""
    size = path.stat().st_size
    if size > MAX_SVG_BYTES:
        raise UnsupportedMedia(
            f"SVG too large: {size} bytes, above the limit of {MAX_SVG_BYTES} bytes"
        )
    markup, removed = self_contained(path.read_bytes())
    try:
        png = resvg_py.svg_to_bytes(svg_string=markup, width=edge, height=edge, dpi=_CSS_DPI)
    except ValueError as exc:
        raise CorruptMedia(f"SVG does not render: {exc}") from exc
    with Image.open(io.BytesIO(bytes(png))) as rendered:
        picture = rendered.convert("RGBA")
    details = {"external_references_removed": removed}
    return Rendered(picture, "SVG", picture.width, picture.height, details)


def self_contained(data: bytes) -> tuple[str, int]:
    """Return the SVG markup without references to anything outside it, and how many went."""
    try:
        root = fromstring(data)
    except DefusedXmlException as exc:
        # Entities could rebuild what is removed here, or expand without end.
        raise UnsupportedMedia(f"SVG declares XML entities, which are not rendered: {exc}") from exc
    except ET.ParseError as exc:
        raise CorruptMedia(f"SVG is not well-formed XML: {exc}") from exc
    if root.tag != f"{{{_SVG_NS}}}svg" and root.tag != "svg":
        raise UnsupportedMedia(f"not an SVG document: its root element is {root.tag}")
    removed = 0
    for element in root.iter():
        for name in _HREFS:
            value = element.get(name)
            if value is not None and not _INSIDE.match(value):
                del element.attrib[name]
                removed += 1
    with _NAMESPACES_LOCK:
        ET.register_namespace("", _SVG_NS)
        ET.register_namespace("xlink", _XLINK_NS)
        return ET.tostring(root, encoding="unicode"), removed

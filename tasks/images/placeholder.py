"""BlurHash placeholders: a short string a client decodes into a blurred preview."""

from __future__ import annotations

import blurhash
import numpy as np
from PIL import Image

from tasks.images.sizes import fit, flatten

DEFAULT_COMPONENTS = (4, 3)
# The encoder is pure Python and costs O(pixels x components): 32 px keeps it
# near 10 ms, and 12 cosine components cannot show more detail than that.
_BLUR_EDGE = 32


def blurhash_of(img: Image.Image, *, components: tuple[int, int] = DEFAULT_COMPONENTS) -> str:
    """Encode an image (ideally a small rendition) as a BlurHash string."""
    size = fit(img.width, img.height, _BLUR_EDGE)
    tiny = flatten(img.resize(size, Image.Resampling.BOX) if img.size != size else img)
    pixels = np.asarray(tiny.convert("RGB")).tolist()
    return str(blurhash.encode(pixels, components_x=components[0], components_y=components[1]))

"""BlurHash placeholders: well-formed strings that decode back to the picture's colours."""

from __future__ import annotations

import string
from pathlib import Path

import blurhash
import numpy as np
from PIL import Image, ImageDraw

from tasks.images import blurhash_of
from tests.fixtures.images import scene
from tests.tasks.images.conftest import Run

BASE83 = set(string.digits + string.ascii_letters + "#$%*+,-.:;=?@[]^_{|}~")


def test_length_and_charset_follow_the_components() -> None:
    img = scene(200, 150, seed=20)

    for x, y in ((4, 3), (1, 1), (9, 9)):
        code = blurhash_of(img, components=(x, y))
        assert len(code) == 4 + 2 * x * y  # size, max AC, 4 for DC, 2 per AC
        assert set(code) <= BASE83


def test_decodes_to_the_picture_left_red_right_blue() -> None:
    img = Image.new("RGB", (320, 160), (255, 0, 0))
    ImageDraw.Draw(img).rectangle((160, 0, 319, 159), fill=(0, 0, 255))

    decoded = np.array(blurhash.decode(blurhash_of(img), 32, 16))

    left, right = decoded[:, :8].mean(axis=(0, 1)), decoded[:, 24:].mean(axis=(0, 1))
    assert left[0] > 150 and left[2] < 100
    assert right[2] > 150 and right[0] < 100


def test_similar_images_give_close_hashes_and_alpha_is_flattened(tmp_path: Path, run: Run) -> None:
    img = scene(400, 300, seed=21)
    a, b = tmp_path / "a.jpg", tmp_path / "b.webp"
    img.save(a, quality=95)
    img.resize((200, 150)).save(b, quality=70)

    ha, hb = run(a).blurhash, run(b).blurhash
    da = np.array(blurhash.decode(ha, 16, 12), dtype=float)
    db = np.array(blurhash.decode(hb, 16, 12), dtype=float)
    assert np.abs(da - db).mean() < 4

    clear = tmp_path / "clear.png"
    Image.new("RGBA", (40, 40), (0, 0, 0, 0)).save(clear)
    white = np.array(blurhash.decode(run(clear).blurhash, 4, 4)).mean()
    assert white > 250

"""Probe: what a user would read off the original's metadata."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image

from tasks.images import probe_image
from tests.fixtures.images import (
    ADOBE_RGB,
    DISPLAY_P3,
    animated_gif,
    marker_image,
    rgb_icc_profile,
    save_jpeg,
)


def test_oriented_jpeg_reports_its_displayed_size(tmp_path: Path) -> None:
    path = save_jpeg(marker_image(800, 400), tmp_path / "turned.jpg", orientation=6)

    probe = probe_image(path)

    assert (probe.format, probe.mode, probe.width, probe.height, probe.orientation) == (
        "JPEG",
        "RGB",
        400,
        800,
        6,
    )
    assert not probe.has_alpha and not probe.animated and probe.frame_count == 1
    assert (probe.icc_profile, probe.icc_description, probe.color_space) == (False, None, "sRGB")


def test_icc_profiles_are_named(tmp_path: Path) -> None:
    adobe = save_jpeg(
        marker_image(64, 64), tmp_path / "a.jpg", icc_profile=rgb_icc_profile(ADOBE_RGB)
    )
    p3 = tmp_path / "p3.png"
    marker_image(64, 64, "RGBA").save(p3, icc_profile=rgb_icc_profile(DISPLAY_P3))

    assert (probe_image(adobe).icc_description, probe_image(adobe).color_space) == (
        "Adobe RGB (1998)",
        "Adobe RGB",
    )
    assert probe_image(p3).color_space == "Display P3"
    assert probe_image(p3).has_alpha


def test_colour_spaces_without_a_profile(tmp_path: Path) -> None:
    cmyk, gray, palette = tmp_path / "c.jpg", tmp_path / "g.png", tmp_path / "p.png"
    Image.new("CMYK", (8, 8)).save(cmyk)
    Image.new("L", (8, 8)).save(gray)
    Image.new("P", (8, 8)).save(palette, transparency=0)

    assert probe_image(cmyk).color_space == "CMYK"
    assert probe_image(gray).color_space == "Gray"
    assert (probe_image(palette).mode, probe_image(palette).has_alpha) == ("P", True)


def test_animation_and_metadata_dict(tmp_path: Path) -> None:
    path = animated_gif(tmp_path / "anim.gif", [(255, 0, 0), (0, 0, 255)], (30, 20))

    meta = probe_image(path).as_metadata()

    assert json.loads(json.dumps(meta)) == meta
    assert meta == {
        "format": "GIF",
        "mode": "P",
        "width": 30,
        "height": 20,
        "orientation": 1,
        "has_alpha": False,
        "animated": True,
        "frame_count": 2,
        "icc_profile": False,
        "icc_description": None,
        "color_space": "sRGB",
    }

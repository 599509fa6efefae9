"""Sizes through process_image: exact dimensions, orientation, colour, alpha, no metadata."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from tasks.images import ImageResult, make_sizes
from tasks.images.sizes import plan_sizes
from tests.fixtures.images import (
    ADOBE_RGB,
    RED,
    WHITE,
    animated_gif,
    marker_image,
    rgb_icc_profile,
    save_jpeg,
    scene,
)
from tests.tasks.images.conftest import Run, alpha, near, opened


def sizes_of(result: ImageResult) -> list[tuple[int, int, int]]:
    return [(r.edge, r.width, r.height) for r in result.renditions]


def test_plan_caps_at_the_original_and_keeps_no_twins() -> None:
    assert plan_sizes(4000, 3000, (1280, 160, 640, 320)) == [
        (160, (160, 120)),
        (320, (320, 240)),
        (640, (640, 480)),
        (1280, (1280, 960)),
    ]
    # 640 and 1280 would both give the original 500x250: only the smaller edge stays.
    assert plan_sizes(500, 250, (160, 320, 640, 1280)) == [
        (160, (160, 80)),
        (320, (320, 160)),
        (640, (500, 250)),
    ]
    assert plan_sizes(1, 1, (160, 320)) == [(160, (1, 1))]


def test_renditions_are_webp_files_of_exact_sizes(tmp_path: Path, run: Run) -> None:
    source = tmp_path / "photo.jpg"
    scene(1000, 750, seed=1).save(source, quality=90)

    result = run(source)

    assert sizes_of(result) == [
        (160, 160, 120),
        (320, 320, 240),
        (640, 640, 480),
        (1280, 1000, 750),
    ]
    for rendition, img in zip(result.renditions, opened(result), strict=True):
        data = rendition.path.read_bytes()
        assert img.format == "WEBP"
        assert img.size == (rendition.width, rendition.height)
        assert rendition.content_type == "image/webp"
        assert rendition.size_bytes == len(data)
        assert rendition.sha256 == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize(
    ("orientation", "marker_corner", "empty_corner"),
    [
        # Tag 6: shown turned 90° clockwise, so the stored top-left lands top-right.
        (6, "top_right", "top_left"),
        # Tag 8: shown turned 90° counter-clockwise: the stored top-left lands bottom-left.
        (8, "bottom_left", "top_left"),
    ],
)
def test_exif_orientation_is_applied(
    tmp_path: Path,
    run: Run,
    orientation: int,
    marker_corner: str,
    empty_corner: str,
) -> None:
    source = save_jpeg(marker_image(800, 400), tmp_path / "turned.jpg", orientation=orientation)

    result = run(source)

    assert sizes_of(result) == [(160, 80, 160), (320, 160, 320), (640, 320, 640), (1280, 400, 800)]
    for img in opened(result):
        w, h = img.size
        inset = max(2, w // 40)
        corners = {
            "top_left": (inset, inset),
            "top_right": (w - 1 - inset, inset),
            "bottom_left": (inset, h - 1 - inset),
        }
        assert near(img.getpixel(corners[marker_corner]), RED, 40)
        assert near(img.getpixel(corners[empty_corner]), WHITE, 40)


def test_outputs_carry_no_exif_and_no_icc(tmp_path: Path, run: Run) -> None:
    source = save_jpeg(
        scene(640, 480, seed=2),
        tmp_path / "tagged.jpg",
        orientation=3,
        icc_profile=rgb_icc_profile(ADOBE_RGB),
    )
    for fmt, markers in (("webp", (b"EXIF", b"ICCP")), ("jpeg", (b"Exif\0\0", b"ICC_PROFILE"))):
        result = run(source, fmt=fmt)
        for rendition, img in zip(result.renditions, opened(result), strict=True):
            data = rendition.path.read_bytes()
            assert not any(marker in data for marker in markers), rendition.path
            assert len(img.getexif()) == 0
            assert "icc_profile" not in img.info


def test_adobe_rgb_pixels_are_converted_to_srgb(tmp_path: Path, run: Run) -> None:
    colour = (100, 150, 100)
    source = save_jpeg(
        Image.new("RGB", (64, 48), colour),
        tmp_path / "adobe.jpg",
        icc_profile=rgb_icc_profile(ADOBE_RGB),
        quality=100,
    )
    # The same colour worked out by hand: Adobe RGB -> XYZ (D65) -> sRGB.
    adobe_to_xyz = np.array(
        [[0.5767, 0.1856, 0.1882], [0.2974, 0.6273, 0.0753], [0.0270, 0.0707, 0.9911]]
    )
    xyz_to_srgb = np.array(
        [[3.2405, -1.5371, -0.4985], [-0.9693, 1.8760, 0.0416], [0.0556, -0.2040, 1.0572]]
    )
    linear = np.clip(xyz_to_srgb @ adobe_to_xyz @ (np.array(colour) / 255) ** (563 / 256), 0, 1)
    expected = np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * linear ** (1 / 2.4) - 0.055)
    expected_rgb = tuple(round(v * 255) for v in expected)  # about (66, 151, 97)

    (img,) = opened(run(source, edges=(64,), fmt="jpeg", quality=100))

    assert near(img.getpixel((10, 10)), expected_rgb, 3)
    assert not near(img.getpixel((10, 10)), colour, 20)  # the raw values would be wrong


def test_alpha_is_kept_in_webp_and_flattened_onto_white_in_jpeg(tmp_path: Path, run: Run) -> None:
    img = Image.new("RGBA", (400, 200), (0, 0, 0, 0))
    ImageDraw.Draw(img).rectangle((200, 0, 399, 199), fill=(0, 0, 255, 255))
    source = tmp_path / "half.png"
    img.save(source)

    webp = opened(run(source, edges=(200,)))[0]
    jpeg = opened(run(source, edges=(200,), fmt="jpeg"))[0]

    assert webp.mode == "RGBA"
    assert alpha(webp.getpixel((20, 50))) == 0
    assert near(webp.getpixel((180, 50)), (0, 0, 255, 255))
    assert jpeg.mode == "RGB"
    assert near(jpeg.getpixel((20, 50)), WHITE)
    assert near(jpeg.getpixel((180, 50)), (0, 0, 255))


def _cmyk(path: Path) -> Path:
    Image.new("CMYK", (300, 200), (0, 255, 255, 0)).save(path, "JPEG", quality=95)
    return path


def _sixteen_bit(path: Path) -> Path:
    # Half of the 16-bit range: 8-bit clipping would turn it white, scaling gives mid grey.
    Image.new("I;16", (300, 200), 32768).save(path, "PNG")
    return path


def _palette_transparent(path: Path) -> Path:
    img = Image.new("P", (300, 200), 0)
    img.putpalette([255, 0, 0, 0, 255, 0] + [0] * 762)
    ImageDraw.Draw(img).rectangle((150, 0, 299, 199), fill=1)
    img.save(path, "PNG", transparency=0)
    return path


def _gray(path: Path) -> Path:
    Image.new("L", (300, 200), 90).save(path, "PNG")
    return path


def _gray_alpha(path: Path) -> Path:
    img = Image.new("LA", (300, 200), (0, 0))
    ImageDraw.Draw(img).rectangle((150, 0, 299, 199), fill=(200, 255))
    img.save(path, "PNG")
    return path


@pytest.mark.parametrize(
    ("make", "pixel", "transparent_left"),
    [
        (_cmyk, (255, 0, 0), False),
        (_sixteen_bit, (128, 128, 128), False),
        (_palette_transparent, (0, 255, 0, 255), True),
        (_gray, (90, 90, 90), False),
        (_gray_alpha, (200, 200, 200, 255), True),
    ],
    ids=["cmyk-jpeg", "16-bit-png", "palette-transparency", "grayscale", "gray-alpha"],
)
def test_every_mode_gives_right_sizes_and_colours(
    tmp_path: Path,
    run: Run,
    make: Callable[[Path], Path],
    pixel: tuple[int, ...],
    transparent_left: bool,
) -> None:
    source = make(tmp_path / "input.img")

    result = run(source)

    assert sizes_of(result) == [(160, 160, 107), (320, 300, 200)]
    for img in opened(result):
        assert img.mode == ("RGBA" if transparent_left else "RGB")
        assert near(img.getpixel((img.width - 5, 5)), pixel, 8)
        if transparent_left:
            assert alpha(img.getpixel((5, 5))) == 0


def test_a_one_pixel_image_gives_one_rendition(tmp_path: Path, run: Run) -> None:
    source = tmp_path / "dot.png"
    Image.new("RGB", (1, 1), RED).save(source)

    result = run(source)

    assert sizes_of(result) == [(160, 1, 1)]
    assert near(opened(result)[0].getpixel((0, 0)), RED, 10)


def test_animated_gif_gives_sizes_of_its_first_frame(tmp_path: Path, run: Run) -> None:
    source = animated_gif(tmp_path / "anim.gif", [RED, (0, 255, 0), (0, 0, 255)], (240, 180))

    result = run(source)

    assert result.probe.animated and result.probe.frame_count == 3
    assert sizes_of(result) == [(160, 160, 120), (320, 240, 180)]
    for img in opened(result):
        assert getattr(img, "n_frames", 1) == 1
        assert near(img.getpixel((10, 10)), RED, 10)


@pytest.mark.parametrize("fmt", ["HEIF", "AVIF"])
def test_heif_and_avif_inputs(tmp_path: Path, run: Run, fmt: str) -> None:
    source = tmp_path / f"photo.{fmt.lower()}"
    scene(640, 360, seed=3).save(source, fmt, quality=80)

    result = run(source)

    assert result.probe.format == fmt
    assert sizes_of(result) == [(160, 160, 90), (320, 320, 180), (640, 640, 360)]


@pytest.mark.parametrize(
    ("fmt", "content_type", "pillow_format"),
    [
        ("jpeg", "image/jpeg", "JPEG"),
        ("avif", "image/avif", "AVIF"),
    ],
)
def test_other_output_formats(
    tmp_path: Path, fmt: str, content_type: str, pillow_format: str
) -> None:
    source = tmp_path / "photo.png"
    scene(400, 300, seed=4).save(source)

    renditions = make_sizes(source, out_dir=tmp_path / "out", edges=(100, 200), fmt=fmt)  # type: ignore[arg-type]

    assert [(r.width, r.height, r.content_type) for r in renditions] == [
        (100, 75, content_type),
        (200, 150, content_type),
    ]
    with Image.open(renditions[0].path) as img:
        assert img.format == pillow_format

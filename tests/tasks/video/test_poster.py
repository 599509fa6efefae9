"""Poster choice among candidate frames drawn with Pillow."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

from tasks.video.poster import choose_poster, frame_stats


def flat(path: Path, grey: int) -> Path:
    Image.new("RGB", (320, 180), (grey, grey, grey)).save(path)
    return path


def scene(path: Path, *, brightness: int = 255) -> Path:
    image = Image.new("RGB", (320, 180), (brightness // 4,) * 3)
    draw = ImageDraw.Draw(image)
    for i in range(8):
        draw.rectangle((i * 40, 20, i * 40 + 20, 160), fill=(brightness, brightness // 2, 0))
    image.save(path)
    return path


def test_black_white_and_flat_frames_are_not_usable(tmp_path: Path) -> None:
    assert not frame_stats(flat(tmp_path / "black.jpg", 0)).usable
    assert not frame_stats(flat(tmp_path / "white.jpg", 255)).usable
    assert not frame_stats(flat(tmp_path / "grey.jpg", 128)).usable
    assert frame_stats(scene(tmp_path / "scene.jpg")).usable


def test_first_usable_candidate_after_the_opening_frame_wins(tmp_path: Path) -> None:
    opening = scene(tmp_path / "0.jpg")
    black = flat(tmp_path / "1.jpg", 2)
    good = scene(tmp_path / "2.jpg")
    later = scene(tmp_path / "3.jpg")

    assert choose_poster([opening, black, good, later]) == good


def test_opening_frame_is_the_last_usable_resort(tmp_path: Path) -> None:
    opening = scene(tmp_path / "0.jpg")
    blacks = [flat(tmp_path / f"{i}.jpg", 0) for i in range(1, 4)]

    assert choose_poster([opening, *blacks]) == opening


def test_all_dull_candidates_give_the_least_blank(tmp_path: Path) -> None:
    black = flat(tmp_path / "0.jpg", 0)
    dim = scene(tmp_path / "1.jpg", brightness=40)  # mean under the black threshold
    white = flat(tmp_path / "2.jpg", 255)

    assert not frame_stats(dim).usable
    assert choose_poster([black, dim, white]) == dim

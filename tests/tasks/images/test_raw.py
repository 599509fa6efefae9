"""Camera RAW through libraw: an upright picture, the shot in the probe, a sentence when broken."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import CorruptMedia, UnsupportedMedia
from tests.fixtures.raw import CAMERA_MAKE, CAMERA_MODEL, LENS, write_dng
from tests.tasks.images.conftest import Run, near, opened


def test_a_dng_records_camera_lens_exposure_and_capture_time(tmp_path: Path, run: Run) -> None:
    result = run(write_dng(tmp_path / "shot.dng"))

    meta = result.as_metadata()
    assert (meta["format"], meta["width"], meta["height"]) == ("DNG", 256, 192)
    assert meta["camera"] == f"{CAMERA_MAKE} {CAMERA_MODEL}"
    assert meta["lens"] == LENS
    assert (meta["exposure_time_s"], meta["f_number"]) == (0.004, 2.8)
    assert meta["captured_at"] == "2024-05-06T07:08:09"


def test_the_raw_orientation_is_applied(tmp_path: Path, run: Run) -> None:
    # Stored landscape with the red corner top-left; orientation 6 turns it clockwise.
    result = run(write_dng(tmp_path / "portrait.dng", orientation=6))

    assert (result.probe.width, result.probe.height) == (192, 256)
    largest = opened(result)[-1].convert("RGB")
    assert largest.size == (192, 256)
    top_right = largest.getpixel((largest.width - 6, 6))
    assert near(top_right, (255, 0, 40), tolerance=60), top_right


def test_a_truncated_raw_fails_with_a_sentence(tmp_path: Path, run: Run) -> None:
    data = write_dng(tmp_path / "whole.dng").read_bytes()
    cut = tmp_path / "cut.dng"
    cut.write_bytes(data[: len(data) // 3])

    with pytest.raises(CorruptMedia, match=r"^camera RAW does not decode: [A-Z]"):
        run(cut)


def test_a_sensor_above_the_pixel_limit_is_refused(tmp_path: Path, run: Run) -> None:
    with pytest.raises(UnsupportedMedia, match=r"sensor holds 256x192 pixels, above the limit"):
        run(write_dng(tmp_path / "shot.dng"), max_pixels=10_000)

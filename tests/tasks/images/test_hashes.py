"""Perceptual hashes: near-duplicates within PHASH_MAX_DISTANCE, distinct images beyond."""

from __future__ import annotations

import itertools
from pathlib import Path

import imagehash
import pytest
from PIL import Image, ImageEnhance

from tasks.images import PHASH_MAX_DISTANCE, from_int64, hamming, is_near_duplicate, to_int64
from tasks.images.hashes import hash_base
from tests.fixtures.images import scene
from tests.tasks.images.conftest import Run


@pytest.mark.parametrize("value", [0, 1, 2**63 - 1, 2**63, 2**64 - 1, 0x8F3A_0000_1234_FFFF])
def test_int64_round_trip(value: int) -> None:
    signed = to_int64(value)

    assert -(2**63) <= signed < 2**63
    assert from_int64(signed) == value


def test_hamming_counts_bits_in_either_form() -> None:
    assert hamming(0, 2**64 - 1) == 64
    assert hamming(to_int64(2**64 - 1), 0) == 64
    assert hamming(0b1011, 0b0001) == 2


def test_hashes_match_imagehash_hex(tmp_path: Path, run: Run) -> None:
    source = tmp_path / "s.png"
    scene(320, 240, seed=7).save(source)

    result = run(source, edges=(160,))

    base = hash_base(Image.open(result.renditions[0].path).convert("RGB"))
    assert hamming(result.phash, int(str(imagehash.phash(base)), 16)) <= 2  # WebP loss only
    assert f"{result.phash:016x}" == result.as_metadata()["phash"]


def test_hashes_do_not_depend_on_the_sizes_asked_for(tmp_path: Path, run: Run) -> None:
    source = tmp_path / "s.jpg"
    scene(1600, 1200, seed=8).save(source, quality=90)

    small, large = run(source, edges=(160, 320)), run(source, edges=(1280,))

    assert hamming(small.phash, large.phash) <= 2
    assert hamming(small.dhash, large.dhash) <= 2


def test_variants_are_near_and_distinct_images_far(tmp_path: Path, run: Run) -> None:
    phashes: list[int] = []
    for seed in (10, 11, 12):
        img = scene(640, 480, seed=seed, background=1)  # alike from afar: the hard case
        original = tmp_path / f"{seed}.jpg"
        img.save(original, quality=92)
        dx, dy = round(img.width * 0.03), round(img.height * 0.03)
        variants = {
            "half.jpg": img.resize((320, 240)),
            "q60.jpg": img,
            "copy.webp": img,
            "crop.jpg": img.crop((dx, dy, img.width - dx, img.height - dy)),
            "bright.jpg": ImageEnhance.Brightness(img).enhance(1.1),
        }
        base = run(original).phash
        phashes.append(base)
        for name, variant in variants.items():
            path = tmp_path / f"{seed}-{name}"
            variant.save(path, quality=60 if name == "q60.jpg" else 90)
            assert is_near_duplicate(base, run(path).phash), name

    for a, b in itertools.combinations(phashes, 2):
        assert hamming(a, b) > PHASH_MAX_DISTANCE

"""Measure the phash/dhash distance that separates near-duplicates from distinct images.

    uv run python bench/phash_threshold.py [--count 48] [--size 1024x768]

Draws ``count`` distinct scenes (pairs of them share a background gradient, so
some distinct pictures look alike from afar), saves each as a JPEG q92 "upload"
and five variants of it (resized to 50%, JPEG q60, WebP q80, cropped 3% at each
edge, brightened x1.1), hashes every file through ``process_image`` exactly as
ingest does, and prints recall on variants and false positives among distinct
pairs for thresholds 0..20, for phash, dhash and both together.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from PIL import Image, ImageEnhance

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tasks.images import ImageOptions, hamming, process_image
from tests.fixtures.images import scene

Variant = Callable[[Image.Image, Path], Path]


def _half(img: Image.Image, out: Path) -> Path:
    img.resize((img.width // 2, img.height // 2), Image.Resampling.LANCZOS).save(out, quality=92)
    return out


def _jpeg60(img: Image.Image, out: Path) -> Path:
    img.save(out, "JPEG", quality=60)
    return out


def _webp(img: Image.Image, out: Path) -> Path:
    path = out.with_suffix(".webp")
    img.save(path, "WEBP", quality=80)
    return path


def _crop3(img: Image.Image, out: Path) -> Path:
    dx, dy = round(img.width * 0.03), round(img.height * 0.03)
    img.crop((dx, dy, img.width - dx, img.height - dy)).save(out, quality=92)
    return out


def _brighter(img: Image.Image, out: Path) -> Path:
    ImageEnhance.Brightness(img).enhance(1.1).save(out, quality=92)
    return out


VARIANTS: dict[str, Variant] = {
    "half": _half,
    "jpeg_q60": _jpeg60,
    "webp": _webp,
    "crop_3pct": _crop3,
    "bright_1.1": _brighter,
}
OPTIONS = ImageOptions(edges=(160,))


def hashes_of(path: Path, work: Path) -> tuple[int, int]:
    """Hash a file the way ingest does."""
    result = process_image(path, out_dir=work / path.stem, options=OPTIONS)
    return result.phash, result.dhash


def measure(count: int, size: tuple[int, int], work: Path) -> None:
    """Print the recall / false-positive table and the suggested threshold."""
    originals: list[tuple[int, int]] = []
    variants: list[tuple[int, str, tuple[int, int]]] = []  # (original index, kind, hashes)
    for i in range(count):
        img = scene(*size, seed=1000 + i, background=i // 2)
        path = work / f"s{i}.jpg"
        img.save(path, quality=92)
        originals.append(hashes_of(path, work))
        for kind, make in VARIANTS.items():
            variants.append((i, kind, hashes_of(make(img, work / f"s{i}_{kind}.jpg"), work)))

    same = [(originals[i], h, kind) for i, kind, h in variants]
    distinct = [(a, b) for a, b in itertools.combinations(originals, 2)]
    distinct += [(originals[j], h) for i, _, h in variants for j in range(count) if j != i]

    def dist(pair: tuple[tuple[int, int], tuple[int, int]], k: int) -> int:
        return hamming(pair[0][k], pair[1][k])

    same_d = [(dist((a, b), 0), dist((a, b), 1), kind) for a, b, kind in same]
    diff_d = [(dist(p, 0), dist(p, 1)) for p in distinct]
    print(
        f"{count} distinct scenes {size[0]}x{size[1]}, {len(same)} variant pairs, "
        f"{len(distinct)} distinct pairs (hashed from the {OPTIONS.edges[0]} px size)"
    )
    print(
        f"phash on variants: max {max(d[0] for d in same_d)}; "
        f"distinct: min {min(d[0] for d in diff_d)}"
    )
    print(
        f"dhash on variants: max {max(d[1] for d in same_d)}; "
        f"distinct: min {min(d[1] for d in diff_d)}"
    )
    for kind in VARIANTS:
        ds = sorted(d[0] for d in same_d if d[2] == kind)
        print(f"  phash {kind:>10}: median {ds[len(ds) // 2]:2d}, max {ds[-1]:2d}")
    print()
    header = "  t | phash recall  FP (rate)    | dhash recall  FP (rate)    | both recall  FP"
    print(header)
    print("-" * len(header))
    rules: tuple[Callable[[int, int, int], bool], ...] = (
        lambda p, d, t: p <= t,
        lambda p, d, t: d <= t,
        lambda p, d, t: p <= t and d <= t,
    )
    for t in range(21):
        cols = []
        for rule in rules:
            recall = sum(rule(p, d, t) for p, d, _ in same_d) / len(same_d)
            fp = sum(rule(p, d, t) for p, d in diff_d)
            cols.append(f"{recall:7.1%}  {fp:5d} ({fp / len(diff_d):6.3%})")
        print(f" {t:2d} | {cols[0]} | {cols[1]} | {cols[2]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=48)
    parser.add_argument("--size", default="1024x768")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        measure(args.count, (width, height), Path(tmp))


if __name__ == "__main__":
    main()

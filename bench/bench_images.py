"""Benchmark the image recipe against a naive Pillow script on 12 MP JPEGs.

    uv run python bench/bench_images.py [--count 50] [--repeat 3] [--workers 2]

The images (4000x3000 JPEG q90 scenes: gradient, shapes, text, grain) are
generated once into a cache dir under the temp dir. Both contenders write the
same four WebP q80 sizes (160, 320, 640, 1280) and compute phash and dhash:

- naive: per size, open the original, apply EXIF orientation (which decodes it
  in full), thumbnail(), save; then hash the full image.
- recipe: ``process_image`` (one shrink-on-load decode, cascade, hashes from
  160 px, and a BlurHash the naive script does not even make).

Prints the median over ``repeat`` runs of each, the ratio recipe/naive (goal
<= 0.35), and images per second for a batch on a process pool.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import imagehash
from PIL import Image, ImageOps

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tasks.images import ImageOptions, process_image
from tests.fixtures.images import scene

SIZE = (4000, 3000)
EDGES = (160, 320, 640, 1280)
CACHE = Path(tempfile.gettempdir()) / "assetflow-bench-images" / f"{SIZE[0]}x{SIZE[1]}-q90"


def _generate(index: int) -> Path:
    path = CACHE / f"{index:03d}.jpg"
    if not path.exists():
        partial = path.with_suffix(".part")
        scene(*SIZE, seed=index).save(partial, "JPEG", quality=90)
        partial.rename(path)
    return path


def originals(count: int, workers: int) -> list[Path]:
    """Return ``count`` cached 12 MP JPEGs, generating the missing ones."""
    CACHE.mkdir(parents=True, exist_ok=True)
    with ProcessPoolExecutor(workers) as pool:
        return list(pool.map(_generate, range(count)))


def naive(path: Path, out_dir: Path) -> None:
    """Do what a first script would: one full decode per size, hashes on the full image."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for edge in EDGES:
        with Image.open(path) as original:
            img = ImageOps.exif_transpose(original)
            img.thumbnail((edge, edge), Image.Resampling.LANCZOS)
            img.save(out_dir / f"{edge}.webp", "WEBP", quality=80)
    with Image.open(path) as full:
        imagehash.phash(full)
        imagehash.dhash(full)


def recipe(path: Path, out_dir: Path) -> None:
    """Run the image recipe."""
    process_image(path, out_dir=out_dir, options=ImageOptions(edges=EDGES, fmt="webp", quality=80))


def _job(args: tuple[str, Path, Path]) -> None:
    name, path, out_dir = args
    CONTENDERS[name](path, out_dir)


CONTENDERS: dict[str, Callable[[Path, Path], None]] = {"naive": naive, "recipe": recipe}


def run_serial(name: str, paths: list[Path], work: Path) -> float:
    """Time one contender over every image in this process; return seconds."""
    start = time.perf_counter()
    for path in paths:
        CONTENDERS[name](path, work / name / path.stem)
    return time.perf_counter() - start


def run_batch(name: str, paths: list[Path], work: Path, workers: int) -> float:
    """Time one contender over every image on a process pool; return seconds."""
    jobs = [(name, path, work / f"{name}-batch" / path.stem) for path in paths]
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(_job, jobs[:workers]))  # start the workers and import outside the clock
        start = time.perf_counter()
        list(pool.map(_job, jobs))
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    paths = originals(args.count, args.workers)
    print(f"{len(paths)} images {SIZE[0]}x{SIZE[1]} JPEG q90 in {CACHE}")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        recipe(paths[0], work / "warm")  # imports and first-call costs outside the clock
        naive(paths[0], work / "warm")
        serial: dict[str, list[float]] = {"naive": [], "recipe": []}
        batch: dict[str, list[float]] = {"naive": [], "recipe": []}
        for _ in range(args.repeat):
            for name in serial:
                serial[name].append(run_serial(name, paths, work))
                batch[name].append(run_batch(name, paths, work, args.workers))

    print(f"median of {args.repeat} runs; one process, then a pool of {args.workers} processes")
    for name in serial:
        one, pool = statistics.median(serial[name]), statistics.median(batch[name])
        print(
            f"  {name:>6}: {one:6.2f} s serial ({one / len(paths) * 1000:5.0f} ms/image), "
            f"{len(paths) / pool:5.2f} images/s on {args.workers} workers "
            f"(runs: {', '.join(f'{t:.2f}' for t in serial[name])} s)"
        )
    ratio = statistics.median(serial["recipe"]) / statistics.median(serial["naive"])
    print(f"  ratio recipe/naive: {ratio:.3f}x (goal <= 0.35x)")


if __name__ == "__main__":
    main()

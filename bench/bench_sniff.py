"""Benchmark what recognising a file costs: libmagic, the decoders as judges, the image source.

    uv run python bench/bench_sniff.py [--count 20] [--repeat 200]

Per file kind, the median time of ``sniff_file`` (what the ingest runs once per
source) and of ``picture_source`` (what the image recipe runs to pick its
decoder), against reading the first 4 KiB, which is what the hand-written
signature table it replaced cost. Goal: under 5 ms per file added on a JPEG
(the common case); audio and video pay an ffprobe run (tens of ms) next to a
transcode of seconds.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_images import originals
from tasks.images.sources import picture_source
from tasks.sniff import sniff_file
from tests.fixtures.av_media import make_video
from tests.fixtures.images import scene

GOAL_MS = 5.0


def _read_head(path: Path) -> None:
    with path.open("rb") as fh:
        fh.read(4096)


def _median_ms(fn: Callable[[Path], object], paths: list[Path], repeat: int) -> float:
    fn(paths[0])  # first-call costs (libmagic's database, Pillow's plugins) outside the clock
    times = []
    for index in range(repeat):
        path = paths[index % len(paths)]
        start = time.perf_counter()
        fn(path)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()

    jpegs = originals(args.count, 2)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        png = work / "scene.png"
        scene(1600, 1200, seed=1).save(png)
        video = make_video(work / "clip.mp4", seconds=2, width=320, height=240)
        kinds = {"JPEG 12 MP": jpegs, "PNG 2 MP": [png], "MP4": [video]}
        print(f"median of {args.repeat} calls, ms per file")
        print(f"  {'file':<12} {'read 4 KiB':>10} {'sniff_file':>11} {'picture_source':>15}")
        added_on_jpeg = 0.0
        for name, paths in kinds.items():
            repeat = args.repeat if name != "MP4" else max(10, args.repeat // 10)
            head = _median_ms(_read_head, paths, repeat)
            sniff = _median_ms(sniff_file, paths, repeat)
            source = _median_ms(picture_source, paths, repeat)
            print(f"  {name:<12} {head:10.3f} {sniff:11.3f} {source:15.3f}")
            if name.startswith("JPEG"):
                added_on_jpeg = sniff + source - head
    print(f"  added per JPEG: {added_on_jpeg:.3f} ms (goal < {GOAL_MS} ms)")
    return 0 if added_on_jpeg < GOAL_MS else 1


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark the video recipe against the naive sequence of raw tool runs.

    uv run python bench/bench_video.py [--runs 2] [--preset veryfast]

Both sides do the same work on a 60 s 1080p30 clip with audio (made once with
lavfi and cached in the temp dir): probe, a 720p proxy, sprite sheets, a
poster and a raw Chromaprint fingerprint. The naive side runs each tool on its
own (fpcalc for the fingerprint); ours probes once, decodes the picture once
(scaled once, then split), and fingerprints the audio as the audio recipe does
(Chromaprint fed by one guarded ffmpeg decode). Prints the wall time of each
run, the median ratio ours/naive (goal: at most 0.65), the CPU time of this
process and its children (steadier than wall time on a shared machine) and
the peak RSS of the whole process tree (sampled with psutil).
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tasks.audio.fingerprint import fingerprint_file
from tasks.video import VideoOptions, derive_video, probe_media
from tests.fixtures.av_media import make_video

CACHE = Path(tempfile.gettempdir()) / "assetflow-bench"
SECONDS, WIDTH, HEIGHT, FPS = 60, 1920, 1080, 30
SAMPLE_EVERY_S = 0.05


def source_clip() -> Path:
    """Return the cached bench clip, making it on first use."""
    path = CACHE / f"video-{SECONDS}s-{HEIGHT}p{FPS}.mp4"
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        print(f"making {path} ...", flush=True)
        partial = path.with_suffix(".part.mp4")
        make_video(partial, seconds=SECONDS, width=WIDTH, height=HEIGHT, fps=FPS, preset="veryfast")
        partial.rename(path)
    return path


def run(cmd: list[str]) -> None:
    """Run one raw tool command; like fpcalc, judge the output, not a harmless exit code."""
    subprocess.run(cmd, capture_output=True, check=cmd[0] != "fpcalc")


def naive(source: Path, out: Path, preset: str) -> None:
    """Do the work as five separate tool runs, each decoding the source again."""
    run(["ffprobe", "-v", "error", "-show_format", "-show_streams", "-of", "json", str(source)])
    run([
        "ffmpeg", "-y", "-i", str(source), "-vf", "scale=1280:720,setsar=1,format=yuv420p",
        "-c:v", "libx264", "-preset", preset, "-profile:v", "high", "-bf", "0",
        "-b:v", "3M", "-maxrate", "4M", "-bufsize", "8M",
        "-c:a", "aac", "-b:a", "128k", "-ac", "2", "-ar", "48000",
        "-movflags", "+faststart", str(out / "proxy.mp4"),
    ])  # fmt: skip
    run([
        "ffmpeg", "-y", "-i", str(source), "-vf", "fps=2,scale=160:90,tile=10x10",
        "-q:v", "5", "-start_number", "0", str(out / "sheet_%03d.jpg"),
    ])  # fmt: skip
    run([
        "ffmpeg", "-y", "-ss", str(SECONDS / 4), "-i", str(source), "-frames:v", "1",
        "-vf", "scale=1280:720", "-q:v", "3", str(out / "poster.jpg"),
    ])  # fmt: skip
    run(["fpcalc", "-raw", "-length", "0", str(source)])


def ours(source: Path, out: Path, preset: str) -> None:
    """Probe once, then one ffmpeg pass for every video derivative, then the fingerprint."""
    probe = probe_media(source)
    derive_video(source, out_dir=out, probe=probe, options=VideoOptions(preset=preset))
    fingerprint_file(source, probe=probe)


def tree_rss() -> int:
    """Sum the resident memory of this process and all its descendants."""
    me = psutil.Process()
    total = 0
    for proc in [me, *me.children(recursive=True)]:
        try:
            total += proc.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return total


def cpu_seconds() -> float:
    """Return the CPU time used so far by this process and its waited-for children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def measure(
    work: Callable[[Path, Path, str], None], source: Path, preset: str
) -> tuple[float, float, int]:
    """Run `work` in a fresh output dir; return its wall time, CPU time and peak tree RSS."""
    out = Path(tempfile.mkdtemp(prefix="bench-video-", dir=CACHE))
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.wait(SAMPLE_EVERY_S):
            peak = max(peak, tree_rss())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    start, start_cpu = time.perf_counter(), cpu_seconds()
    try:
        work(source, out, preset)
    finally:
        elapsed, cpu = time.perf_counter() - start, cpu_seconds() - start_cpu
        done.set()
        sampler.join()
        shutil.rmtree(out, ignore_errors=True)
    return elapsed, cpu, peak


def main() -> None:
    """Alternate the sides `--runs` times and print the medians."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--preset", default=VideoOptions().preset)
    args = parser.parse_args()
    source = source_clip()
    sides = {"naive": naive, "ours": ours}
    times: dict[str, list[float]] = {name: [] for name in sides}
    cpus: dict[str, list[float]] = {name: [] for name in sides}
    peaks: dict[str, int] = dict.fromkeys(sides, 0)
    for run_no in range(1, args.runs + 1):
        for name, work in sides.items():
            elapsed, cpu, peak = measure(work, source, args.preset)
            times[name].append(elapsed)
            cpus[name].append(cpu)
            peaks[name] = max(peaks[name], peak)
            print(
                f"run {run_no} {name:20s} wall {elapsed:6.2f} s  CPU {cpu:6.2f} s  "
                f"peak RSS {peak / 2**20:4.0f} MiB",
                flush=True,
            )
    print(f"\n{SECONDS} s {HEIGHT}p{FPS} clip, preset {args.preset}, {args.runs} runs (median):")
    for name in sides:
        wall, cpu = statistics.median(times[name]), statistics.median(cpus[name])
        print(f"  {name:20s} wall {wall:6.2f} s  CPU {cpu:6.2f} s  peak tree RSS "
              f"{peaks[name] / 2**20:4.0f} MiB")  # fmt: skip
    for label, series in (("wall", times), ("CPU", cpus)):
        ratio = statistics.median(series["ours"]) / statistics.median(series["naive"])
        print(f"  ratio ours/naive ({label}) {ratio:5.2f}x (goal <= 0.65x)")


if __name__ == "__main__":
    main()

"""Benchmark fetch_source against a naive urllib + hashlib loop, over a local HTTP server.

    uv run python bench/bench_fetch.py [--size-mib 1024] [--rss-check-mib 256] [--runs 3]

Serves a generated file from the test suite's HTTP server (in this process)
and runs each download in a fresh subprocess, so its peak RSS is its own.
Reports the median wall time of the runs, throughput, the ratio to the
baseline, and peak RSS; fetch's RSS should not grow with the file size.
"""

from __future__ import annotations

import argparse
import hashlib
import ipaddress
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TypedDict

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # a plain script: make core/, tasks/, tests/ importable

MIB = 1024 * 1024


class Measured(TypedDict):
    """What one child run reports."""

    wall_s: float
    cpu_s: float
    peak_rss_mib: float
    size: int
    sha256: str


def child_fetch(url: str, dest: Path) -> Measured:
    """Run fetch_source once; return its wall time and this process's peak RSS."""
    from core.settings import Settings
    from tasks.fetch import fetch_source

    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        allowed_networks=[ipaddress.ip_network("127.0.0.1/32")],
        max_source_bytes=64 * 1024 * MIB,
    )
    start, cpu = time.perf_counter(), _cpu()
    fetched = fetch_source(url, dest_dir=dest, settings=settings)
    return _measured(start, cpu, fetched.size, fetched.sha256)


def child_baseline(url: str, dest: Path) -> Measured:
    """The naive loop: urllib, 1 MiB reads, sha256 + md5 + write, one thread."""
    from urllib.request import urlopen

    dest.mkdir(parents=True, exist_ok=True)
    start, cpu = time.perf_counter(), _cpu()
    sha256, md5, size = hashlib.sha256(), hashlib.md5(usedforsecurity=False), 0
    with urlopen(url) as response, (dest / "baseline.bin").open("wb") as out:
        while chunk := response.read(MIB):
            sha256.update(chunk)
            md5.update(chunk)
            out.write(chunk)
            size += len(chunk)
    return _measured(start, cpu, size, sha256.hexdigest())


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _measured(start: float, cpu: float, size: int, sha256: str) -> Measured:
    return {
        "wall_s": time.perf_counter() - start,
        "cpu_s": _cpu() - cpu,
        # ru_maxrss is in KiB on Linux.
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "size": size,
        "sha256": sha256,
    }


def make_file(path: Path, size_mib: int) -> None:
    """Write ``size_mib`` MiB of random bytes, 1 MiB at a time."""
    with path.open("wb") as out:
        for _ in range(size_mib):
            out.write(os.urandom(MIB))


def run_child(kind: str, url: str, dest: Path) -> Measured:
    """Run one download in a fresh interpreter and return what it measured."""
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, url, str(dest)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    shutil.rmtree(dest, ignore_errors=True)
    measured: Measured = json.loads(out.strip().splitlines()[-1])
    return measured


def main() -> None:
    """Parse the arguments, then run the benchmark or one child measurement."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--rss-check-mib", type=int, default=256, help="0: skip")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--child", nargs=3, metavar=("KIND", "URL", "DEST"), help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        kind, url, dest = args.child
        run = child_fetch if kind == "fetch" else child_baseline
        print(json.dumps(run(url, Path(dest))))
        return

    from tests.fixtures.http_server import ServeFile, serve_http

    sizes = sorted({args.size_mib, args.rss_check_mib} - {0})
    work = Path(tempfile.mkdtemp(prefix="bench-fetch-", dir=args.workdir))
    rows = []
    try:
        with serve_http() as server:
            for size_mib in sizes:
                source = work / f"source-{size_mib}.bin"
                make_file(source, size_mib)
                expected = _sha256_of(source)
                url = server.route(f"/source-{size_mib}.bin", ServeFile(source))
                results: dict[str, list[Measured]] = {"baseline": [], "fetch": []}
                for _ in range(args.runs):
                    for kind in results:  # interleaved, so drift hits both alike
                        result = run_child(kind, url, work / "dest")
                        if result["sha256"] != expected or result["size"] != size_mib * MIB:
                            raise SystemExit(f"{kind} produced wrong bytes")
                        results[kind].append(result)
                rows.append((size_mib, results))
                source.unlink()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    _print_table(rows, args.runs)


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(MIB):
            digest.update(chunk)
    return digest.hexdigest()


def _print_table(rows: list[tuple[int, dict[str, list[Measured]]]], runs: int) -> None:
    print(f"median of {runs} runs (peak RSS: max), each in a fresh subprocess; loopback sendfile")
    header = (
        f"{'size':>9} {'variant':<26} {'wall s':>8} {'MiB/s':>8} {'vs base':>8} "
        f"{'CPU s':>7} {'peak RSS':>10}"
    )
    print(header)
    print("-" * len(header))
    names = {"baseline": "urllib+sha256+md5 (naive)", "fetch": "fetch_source"}
    for size_mib, results in rows:
        base = statistics.median(r["wall_s"] for r in results["baseline"])
        for kind, measured in results.items():
            wall = statistics.median(r["wall_s"] for r in measured)
            cpu = statistics.median(r["cpu_s"] for r in measured)
            rss = max(r["peak_rss_mib"] for r in measured)
            print(
                f"{size_mib:>5} MiB {names[kind]:<26} {wall:>8.2f} {size_mib / wall:>8.0f} "
                f"{wall / base:>7.2f}x {cpu:>7.2f} {rss:>6.0f} MiB"
            )
        spread = ", ".join(f"{r['wall_s']:.2f}" for r in results["fetch"])
        print(f"{'':>9} fetch_source runs: {spread}")


if __name__ == "__main__":
    main()

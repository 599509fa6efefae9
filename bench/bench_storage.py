"""Peak memory and time of S3Store.put_file of a large file to a local SeaweedFS.

Each upload runs in a fresh child process so its peak RSS (ru_maxrss) is its
own. Run: ``uv run python bench/bench_storage.py [--size-mib 1024] [--repeat 2]``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

MIB = 1024 * 1024
# (part size MiB, parallel uploads): assetflow's choice first, then minio's own
# choice for this size (5 MiB, S3's minimum, x 3) and larger settings, for comparison.
CONFIGS = [(8, 3), (5, 3), (16, 2), (64, 4)]


def child(args: argparse.Namespace) -> None:
    """Upload one file with the given part settings and print a JSON line of figures."""
    import storage.s3 as s3

    s3.PART_SIZE = args.part_mib * MIB
    s3.PARALLEL_UPLOADS = args.parallel
    store = s3.S3Store(
        endpoint=args.endpoint,
        access_key=args.access_key,
        secret_key=args.secret_key,
        bucket=args.bucket,
        region="us-east-1",
        secure=False,
    )
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    result = store.put_file(f"bench/{uuid.uuid4().hex}", Path(args.file))
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert result.uploaded
    print(json.dumps({"seconds": seconds, "baseline_kib": before, "peak_kib": peak}))


def make_file(path: Path, size_mib: int) -> None:
    with path.open("wb") as out:
        for _ in range(size_mib):
            out.write(os.urandom(MIB))


def main() -> None:
    from tests.fixtures.seaweed import S3Server

    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=2)
    options = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-storage-") as scratch:
        workdir = Path(scratch)
        source = workdir / "big.bin"
        make_file(source, options.size_mib)
        (workdir / "weed").mkdir()
        server = S3Server.configure(workdir / "weed")
        server.start()
        try:
            server.client().make_bucket("bench")
            for part_mib, parallel in CONFIGS:
                runs = []
                for _ in range(options.repeat):
                    command = [
                        *(sys.executable, __file__, "--child", f"--file={source}"),
                        *(f"--part-mib={part_mib}", f"--parallel={parallel}"),
                        *(f"--endpoint={server.endpoint}", "--bucket=bench"),
                        *(f"--access-key={server.access_key}", f"--secret-key={server.secret_key}"),
                    ]
                    out = subprocess.run(
                        command,
                        check=True,
                        capture_output=True,
                        text=True,
                    )
                    runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
                label = f"part {part_mib} MiB x {parallel} parallel"
                peaks = [run["peak_kib"] / 1024 for run in runs]
                base = [run["baseline_kib"] / 1024 for run in runs]
                secs = [run["seconds"] for run in runs]
                print(
                    f"{label}: peak RSS median {statistics.median(peaks):.0f} MiB "
                    f"(runs {', '.join(f'{p:.0f}' for p in peaks)}; "
                    f"after imports {statistics.median(base):.0f} MiB), "
                    f"time median {statistics.median(secs):.1f} s "
                    f"({options.size_mib / statistics.median(secs):.0f} MiB/s)",
                    flush=True,
                )
        finally:
            server.stop()


if __name__ == "__main__":
    if "--child" in sys.argv:
        parser = argparse.ArgumentParser()
        parser.add_argument("--child", action="store_true")
        for name in ("file", "endpoint", "bucket", "access-key", "secret-key"):
            parser.add_argument(f"--{name}", required=True)
        parser.add_argument("--part-mib", type=int, required=True)
        parser.add_argument("--parallel", type=int, required=True)
        child(parser.parse_args())
    else:
        main()

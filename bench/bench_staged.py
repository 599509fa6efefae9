"""What an upload's bytes cost on S3: the staged write, the read that names them, the move.

An upload session writes its parts straight into an S3 multipart upload under
its staging key. Its ingest then reads the staged object once (hashing sha256
and md5 into the work file the probes need) and moves it under its content
key with a server-side copy (``adopt_staged``). This times each step on a
local SeaweedFS, beside ``put_file`` (minio's ``fput_object``) of the same
file as the yardstick. Run: ``uv run python bench/bench_staged.py [--size-mib 1024]``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

MIB = 1024 * 1024
PART_BYTES = 50 * MIB  # the default chunk size (ASSETFLOW_UPLOAD_CHUNK_BYTES)
T = TypeVar("T")


def timed(label: str, size_mib: int, work: Callable[[], T]) -> T:
    started = time.perf_counter()
    result = work()
    seconds = time.perf_counter() - started
    print(f"{label}: {seconds:.1f} s ({size_mib / seconds:.0f} MiB/s)", flush=True)
    return result


def main() -> None:
    from storage.keys import content_key, staged_key
    from storage.s3 import S3Store
    from tasks.spool import spool
    from tests.fixtures.seaweed import S3Server

    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=1024)
    options = parser.parse_args()
    size = options.size_mib

    with tempfile.TemporaryDirectory(prefix="bench-staged-") as scratch:
        workdir = Path(scratch)
        source = workdir / "big.bin"
        with source.open("wb") as out:
            for _ in range(size):
                out.write(os.urandom(MIB))
        (workdir / "weed").mkdir()
        server = S3Server.configure(workdir / "weed")
        server.start()
        try:
            server.client().make_bucket("bench")
            store = S3Store(
                endpoint=server.endpoint,
                access_key=server.access_key,
                secret_key=server.secret_key,
                bucket="bench",
                region=server.region,
                secure=False,
            )
            timed(
                "put_file (fput_object), the yardstick",
                size,
                lambda: store.put_file(f"bench/{uuid.uuid4().hex}", source),
            )
            key = staged_key(str(uuid.uuid4()))

            def write_parts() -> None:
                upload_id = store.begin_staged(key, content_type=None)
                parts = []
                with source.open("rb") as stream:
                    while block := stream.read(PART_BYTES):
                        parts.append(
                            store.write_staged_part(
                                key,
                                upload_id,
                                number=len(parts) + 1,
                                offset=0,
                                data=block,
                            )
                        )
                store.complete_staged(key, upload_id, parts)

            timed("staged write, 50 MiB parts, then complete", size, write_parts)

            def read_and_hash() -> str:
                with store.open_staged(key) as stream:
                    spooled = spool(
                        iter(lambda: stream.read(MIB), b""),
                        dest_dir=workdir / "work",
                        max_bytes=size * MIB,
                        label="bench",
                    )
                return spooled.digest.sha256

            sha256 = timed(
                "read of the staged object into the work file, hashed", size, read_and_hash
            )
            timed(
                "adopt_staged: server-side copy under the content key, staged copy removed",
                size,
                lambda: store.adopt_staged(key, content_key(sha256), content_type=None),
            )
        finally:
            server.stop()


if __name__ == "__main__":
    main()

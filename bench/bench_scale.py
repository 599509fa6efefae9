"""A library of a million: what an ingest and a lookup cost at 0, 10k, 100k and 1M assets.

Synthetic ready image assets (random phashes) are bulk-loaded into a
throwaway PostgreSQL database (and a SQLite file) between measurements:

- one image ingest, for real (fetch from a local path, store on the
  filesystem, sizes, hashes, near-duplicate links, graph writes), median of
  8 pictures, each its own job, in INLINE mode inside one Prefect flow run so
  the flow's own second is not counted;
- ``similar`` (the near-duplicate search) at the default 12 bits and at 15;
- the first and the 1,000th page of the asset listing, all assets and by tag;
- the "already ingested?" lookup a batch does per item;
- ``match`` of a 10 s noisy clip against N indexed audio tracks (default
  100,000: about 60 M postings), excluding fpcalc;
- peak RSS of reading a 1,000 and a 100,000 line manifest.

    uv run python bench/bench_scale.py [--largest 1000000] [--audio-assets 100000] [--skip-audio]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
# The ephemeral server gets 20 s to start by default: too few on a busy 2-core box.
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")

import numpy as np
import psycopg
from sqlalchemy import Engine, Executable, text
from sqlmodel import select

from core.phash import PHASH_MAX_DISTANCE
from core.requests import AssetRequest
from models import graph
from models.db import make_engine, new_session
from models.listing import AssetFilter, encode_cursor, list_assets, listing_statement
from models.migrate import upgrade_database
from models.similarity import (
    SEARCH_MAX_DISTANCE,
    find_similar,
    link_near_duplicates,
    record_image_hashes,
    similar_statement,
)
from models.tables import ORIGINAL, Asset, AssetStatus, JobKind, size_format
from storage.stored import StoredObject
from tests.fixtures.synthetic import load_images, random_hashes

SIZES = (0, 10_000, 100_000, 1_000_000)
PG = {"host": "127.0.0.1", "user": "postgres"}
PAGE = 50
IMAGES_PER_SIZE = 8
LOOKUPS = 40


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--audio-assets", type=int, default=100_000)
    parser.add_argument("--skip-audio", action="store_true")
    parser.add_argument("--largest", type=int, default=SIZES[-1])
    args = parser.parse_args()
    sizes = [size for size in SIZES if size <= args.largest]
    print(f"load average at start: {os.getloadavg()}")
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        with throwaway_postgres() as url:
            library_on(url, folder, sizes, ingest=True)
        sqlite_url = f"sqlite:///{folder / 'scale.db'}"
        upgrade_database(sqlite_url)
        library_on(sqlite_url, folder, [sizes[-1]], ingest=False)
        if not args.skip_audio:
            with throwaway_postgres() as url:
                audio_on(url, folder, args.audio_assets)
        manifest_rss(folder)
    print(f"load average at end: {os.getloadavg()}")


@contextmanager
def throwaway_postgres() -> Iterator[str]:
    """Create a PostgreSQL database of a unique name, migrated; drop it after."""
    name = f"assetflow_bench_scale_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(**PG, dbname="postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql+psycopg://{PG['user']}@{PG['host']}:5432/{name}"
    try:
        upgrade_database(url)
        yield url
    finally:
        with psycopg.connect(**PG, dbname="postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def library_on(url: str, folder: Path, sizes: list[int], *, ingest: bool) -> None:
    """Grow a library to each size and measure at each."""
    engine = make_engine(url)
    dialect = engine.dialect.name
    rng = random.Random(7)
    loaded = 0
    try:
        for size in sizes:
            started = time.perf_counter()
            load_images(
                engine,
                random_hashes(size - loaded, seed=size),
                first=loaded,
                tags=["press"],
            )
            load_s = time.perf_counter() - started
            loaded = size
            print(f"\n{dialect}, {size:,} image assets (loaded in {load_s:.0f} s)")
            if ingest:
                wall, cpu = zip(*timed_ingests(folder, url, size), strict=True)
                print(
                    f"  image ingest: median {ms(statistics.median(wall))} "
                    f"(min {ms(min(wall))}, max {ms(max(wall))}), "
                    f"this process's CPU median {ms(statistics.median(cpu))}"
                )
            measure_lookups(engine, size, rng)
    finally:
        engine.dispose()


def measure_lookups(engine: Engine, size: int, rng: random.Random) -> None:
    """Time ``similar``, the listing pages and the batch's identifier lookup.

    On PostgreSQL each line also gives the pages the query touched and the
    server's own execution time (EXPLAIN ANALYZE, BUFFERS) of one run: what a
    query reads, whatever else the machine is doing.
    """
    cursor = _cursor_before_page(engine, 1000)
    with new_session(engine) as session:
        for distance in (PHASH_MAX_DISTANCE, SEARCH_MAX_DISTANCE):
            search = partial(find_similar, session=session, max_distance=distance)
            times = timed([partial(search, phash=rng.getrandbits(64)) for _ in range(LOOKUPS)])
            read = reads(
                engine, similar_statement(phash=rng.getrandbits(64), max_distance=distance)
            )
            print(f"  similar within {distance} bits: {summary(times)}{read}")
        for name, filters in (("all", AssetFilter()), ("tag", AssetFilter(tag="press"))):
            page = partial(list_assets, session=session, filters=filters, limit=PAGE)
            read = reads(engine, listing_statement(filters=filters, cursor=None, limit=PAGE + 1))
            line = f"  list {name}: first page {summary(timed([page] * LOOKUPS))}{read}"
            if cursor is not None:
                later = timed([partial(page, cursor=cursor)] * LOOKUPS)
                read = reads(
                    engine, listing_statement(filters=filters, cursor=cursor, limit=PAGE + 1)
                )
                line += f"; page 1,000 {summary(later)}{read}"
            print(line)
        writes = timed([partial(record_image, engine, rng.getrandbits(64)) for _ in range(LOOKUPS)])
        print(f"  graph writes of one image ingest: {summary(writes)}")
        if size:
            project = graph.ensure_project(session=session, name="synthetic")
            find = partial(graph.find_asset, session=session, project_id=project.id)
            numbers = [rng.randrange(size) for _ in range(LOOKUPS)]
            times = timed([partial(find, identifier=f"synthetic-{n:08d}") for n in numbers])
            one = select(Asset).where(
                Asset.project_id == project.id, Asset.identifier == f"synthetic-{numbers[0]:08d}"
            )
            print(f"  already ingested? (identifier lookup): {summary(times)}{reads(engine, one)}")


def record_image(engine: Engine, phash: int) -> None:
    """Write what an image ingest writes to the graph, in its transactions' order.

    Asset and job, ORIGINAL and four sizes with their files and blobs, the
    hashes, the near-duplicate links: the statements whose cost could grow
    with the library, without the decoding and storing around them.
    """
    with new_session(engine) as session:
        owner = graph.ensure_project(session=session, name="bench-writes")
        asset = graph.create_asset(
            session=session, project=owner, identifier=uuid.uuid4().hex, source="s", tags=["a"]
        )
        graph.create_job(session=session, kind=JobKind.INGEST, input={})
        session.commit()
        for name in (ORIGINAL, *(size_format(edge) for edge in (160, 320, 640, 1280))):
            digest = uuid.uuid4().hex * 2
            stored = StoredObject("fs", "b", f"sha256/{digest}", digest, digest[:32], 1, None, True)
            graph.record_format(
                session=session, asset=asset, name=name, files=[graph.NewFile(name, stored)]
            )
        record_image_hashes(session=session, asset_id=asset.id, phash=phash, dhash=0)
        graph.update_asset(session=session, asset=asset, status=AssetStatus.READY)
        link_near_duplicates(session=session, asset_id=asset.id)
        session.commit()


def reads(engine: Engine, statement: Executable) -> str:
    """Say how many pages one run of the statement touched and its server time (PostgreSQL)."""
    if engine.dialect.name != "postgresql":
        return ""
    compiled = statement.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True})
    with engine.connect() as connection:
        # One process: a parallel plan's buffer counts leave out its workers'.
        connection.exec_driver_sql("SET max_parallel_workers_per_gather = 0")
        [[plan]] = connection.exec_driver_sql(
            f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {compiled}"
        ).all()
    top = plan[0]
    pages = top["Plan"]["Shared Hit Blocks"] + top["Plan"]["Shared Read Blocks"]
    return f" [{pages} pages, server {top['Execution Time']:.1f} ms]"


def _cursor_before_page(engine: Engine, page: int) -> str | None:
    """Return the cursor that opens the page (found by OFFSET, outside the timing)."""
    with engine.connect() as connection:
        row = connection.execute(
            text(
                "SELECT created_at, id FROM asset ORDER BY created_at DESC, id DESC "
                "LIMIT 1 OFFSET :skip"
            ),
            {"skip": (page - 1) * PAGE - 1},
        ).first()
    if row is None:
        return None
    created, asset_id = row
    if isinstance(created, str):  # SQLite hands back text
        created = datetime.fromisoformat(created).replace(tzinfo=UTC)
    return encode_cursor(
        created, asset_id if isinstance(asset_id, uuid.UUID) else uuid.UUID(asset_id)
    )


def timed_ingests(folder: Path, url: str, size: int) -> list[tuple[float, float]]:
    """Ingest IMAGES_PER_SIZE new pictures one at a time; return each one's wall and CPU seconds."""
    from flows.jobs import create_ingest_job
    from tests.fixtures.images import save_jpeg, scene

    images = folder / f"images-{size}"
    images.mkdir()
    os.environ.update(
        ASSETFLOW_DATABASE_URL=url,
        ASSETFLOW_STORAGE_URL=f"file://{folder / 'objects'}",
        ASSETFLOW_LOCAL_ROOTS=str(folder),
        ASSETFLOW_TEMP_DIR=str(folder),
    )
    engine = make_engine(url)
    try:
        jobs = []
        for i in range(IMAGES_PER_SIZE + 1):
            path = save_jpeg(scene(1024, 768, seed=size + i), images / f"{i}.jpg")
            request = AssetRequest(source=str(path), project="bench")
            jobs.append(str(create_ingest_job(engine, request).id))
    finally:
        engine.dispose()
    return ingest_flow(jobs)[1:]  # the first pays for imports and warm caches


def _ingest_flow_impl(job_ids: list[str]) -> list[tuple[float, float]]:
    from core.settings import Settings
    from flows.pipeline import ingest_one
    from flows.recipes import RecipeOptions
    from flows.runtime import StepMode

    settings = Settings()
    engine = make_engine(settings.database_url)
    seconds = []
    try:
        for job_id in job_ids:
            started = time.perf_counter()
            cpu = time.process_time()
            outcome = ingest_one(
                uuid.UUID(job_id),
                settings=settings,
                engine=engine,
                mode=StepMode.INLINE,
                recipe=RecipeOptions(),
            )
            seconds.append((time.perf_counter() - started, time.process_time() - cpu))
            if outcome.failed:
                raise RuntimeError(f"bench ingest failed: {outcome.error}")
    finally:
        engine.dispose()
    return seconds


def ingest_flow(job_ids: list[str]) -> list[tuple[float, float]]:
    """Run the ingests inside one flow run (the steps need its context)."""
    from prefect import flow

    return flow(name="bench-scale-ingest")(_ingest_flow_impl)(job_ids)


def audio_on(url: str, folder: Path, assets: int) -> None:
    """Index one real track among ``assets`` synthetic ones; time matching a clip of it."""
    from models.fingerprints import SqlFingerprintIndex, record_fingerprint
    from tasks.audio.fingerprint import fingerprint_file
    from tasks.audio.matching import index_terms, match_raw
    from tests.fixtures.audio_media import noisy_clip, structured_audio

    engine = make_engine(url)
    try:
        started = time.perf_counter()
        items = _load_fingerprints(engine, assets)
        print(
            f"\npostgresql, {assets:,} indexed audio tracks, {items:,} postings "
            f"(loaded in {time.perf_counter() - started:.0f} s)"
        )
        track = structured_audio(
            folder / "track.wav", seed=1001, duration_s=60.0, sample_rate=11025
        )
        with new_session(engine) as session:
            owner = graph.ensure_project(session=session, name="audio")
            asset = graph.create_asset(
                session=session, project=owner, identifier="track", source="t"
            )
            record_fingerprint(
                session=session, asset_id=asset.id, measured=fingerprint_file(track), indexed=True
            )
            session.commit()
        rng = random.Random(3)
        clips = [
            fingerprint_file(
                noisy_clip(
                    track, folder / f"clip-{i}.mp3", start_s=rng.uniform(0, 45), duration_s=10
                )
            ).raw
            for i in range(10)
        ]
        with new_session(engine) as session:
            index = SqlFingerprintIndex(session)
            found = [match_raw(raw, index=index, top=5) for raw in clips]  # warm
            times = timed([partial(match_raw, raw, index=index, top=5) for raw in clips])
            postings = [
                sum(1 for _ in index.candidates(sorted({t for t, _ in index_terms(raw)})))
                for raw in clips
            ]
        right = sum(bool(f) and f[0].asset_id == str(asset.id) for f in found)
        print(
            f"  match (lookup, vote, verify; no fpcalc): {summary(times)}; "
            f"postings read per clip: median {statistics.median(postings):.0f}; "
            f"found the track: {right}/{len(clips)}"
        )
    finally:
        engine.dispose()


def _load_fingerprints(engine: Engine, assets: int) -> int:
    """COPY ``assets`` whole-track fingerprints of 300-900 random items with their postings."""
    rng = np.random.default_rng(5)
    total = 0
    raw_connection = psycopg.connect(
        engine.url.render_as_string(hide_password=False).replace("postgresql+psycopg", "postgresql")
    )
    try:
        # Bulk load as a restore does: no foreign-key triggers, the postings' indexes
        # built once after (the same definitions as the migration's).
        raw_connection.execute("SET session_replication_role = replica")
        raw_connection.execute("SET maintenance_work_mem = '512MB'")
        raw_connection.execute("DROP INDEX ix_fingerprint_term_term_posting")
        raw_connection.execute("ALTER TABLE fingerprint_term DROP CONSTRAINT fingerprint_term_pkey")
        with raw_connection.cursor() as cursor:
            for start in range(0, assets, 5000):
                batch = []
                for _ in range(min(5000, assets - start)):
                    raw = rng.integers(
                        0, 1 << 32, size=int(rng.integers(300, 900)), dtype=np.uint64
                    )
                    batch.append((uuid.uuid4(), uuid.uuid4(), raw))
                with cursor.copy(
                    "COPY fingerprint (id, asset_id, offset_s, duration_s, compressed,"
                    " raw, created_at) FROM STDIN"
                ) as copy:
                    for fid, aid, raw in batch:
                        copy.write_row(
                            (
                                fid,
                                aid,
                                0.0,
                                len(raw) * 0.1238,
                                "",
                                json.dumps(raw.tolist()),
                                "2020-01-01T00:00:00+00:00",
                            )
                        )
                with cursor.copy(
                    "COPY fingerprint_term (fingerprint_id, position, term) FROM STDIN"
                ) as copy:
                    for fid, _, raw in batch:
                        terms = (raw >> 12).tolist()  # TERM_BITS = 20 of 32
                        copy.write("".join(f"{fid}\t{p}\t{t}\n" for p, t in enumerate(terms)))
                        total += len(terms)
                raw_connection.commit()
        raw_connection.execute(
            "ALTER TABLE fingerprint_term ADD CONSTRAINT fingerprint_term_pkey "
            "PRIMARY KEY (fingerprint_id, position)"
        )
        raw_connection.execute(
            "CREATE INDEX ix_fingerprint_term_term_posting "
            "ON fingerprint_term (term, fingerprint_id, position)"
        )
        raw_connection.commit()
        raw_connection.autocommit = True
        raw_connection.execute("VACUUM ANALYZE fingerprint, fingerprint_term")
    finally:
        raw_connection.close()
    return total


def manifest_rss(folder: Path) -> None:
    """Peak RSS of a child that reads a manifest of 1,000 and of 100,000 lines to the end."""
    print()
    for lines in (0, 1_000, 100_000):  # 0: the header alone, what the imports cost
        manifest = folder / f"manifest-{lines}.csv"
        with manifest.open("w") as out:
            out.write("source,identifier,title,tags\n")
            for n in range(lines):
                out.write(f"https://example.com/{n}.jpg,item-{n},Item {n},a;b\n")
        script = (
            "import resource, sys\n"
            "from core.settings import Settings\n"
            "from tasks.manifest import read_manifest\n"
            f"entries = read_manifest({str(manifest)!r}, settings=Settings(), project='p')\n"
            "n = sum(1 for _ in entries)\n"
            "print(n, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, check=True
        )
        count, rss_kb = done.stdout.split()
        print(f"manifest of {int(count):,} lines read: peak RSS {int(rss_kb) / 1024:.1f} MiB")


def timed(calls: list[Callable[[], object]]) -> list[float]:
    """Call each in turn; return each call's seconds (after one untimed call to warm caches)."""
    calls[0]()
    seconds = []
    for call in calls:
        started = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - started)
    return seconds


def summary(seconds: list[float]) -> str:
    ordered = sorted(seconds)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"median {ms(statistics.median(seconds))}, p95 {ms(p95)}"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


if __name__ == "__main__":
    sys.exit(main())

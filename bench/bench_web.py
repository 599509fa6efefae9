"""The web library's pages at 10,000 and 100,000 assets on PostgreSQL: server time per page.

Synthetic ready image assets (tests/fixtures/synthetic.py) each with two
sizes (SIZE_160, SIZE_320: a format, a file set and a file each, as an
ingest records them) are bulk-loaded into a throwaway database. The app
answers in this process (Starlette's TestClient: the whole ASGI request,
auth, queries and the template, without a network hop); each figure is the
median (and the 90th percentile) of ``ROUNDS`` requests, with the median
CPU time of this process (the server's work, whatever else the machine
runs; PostgreSQL's own time is on top, a few ms, see EXPLAIN), of:

- the first page, all assets; the page after the 1,000th asset (a cursor);
- by kind, by tag; a search that matches every asset, one for a word only
  the oldest asset's title holds (the trigram index finds it), and one for the
  oldest asset's identifier, whose trigrams every synthetic identifier shares
  (the worst case: the index helps nothing and every row is read);
- an asset's page.

    uv run python bench/bench_web.py [--largest 100000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlmodel import col, select

from api.app import create_app
from api.auth import KEY_COOKIE
from api.keys import Scope, create_key
from bench.bench_scale import ms, throwaway_postgres
from core.settings import Settings
from models.db import make_engine, new_session
from models.listing import encode_cursor
from models.tables import Asset
from tests.fixtures.synthetic import load_images, random_hashes

SIZES = (10_000, 100_000)
ROUNDS = 30
BLOB = "a" * 64


def add_sizes(engine: Engine) -> None:
    """Give every asset without formats a SIZE_160 and a SIZE_320, as an ingest records them."""
    statements = [
        f"""INSERT INTO blob (sha256, md5, size, content_type, backend, bucket, key, created_at)
            VALUES ('{BLOB}', '{"b" * 32}', 2000, 'image/webp', 'filesystem', '', 'k', now())
            ON CONFLICT DO NOTHING""",
        """INSERT INTO format (id, asset_id, name, technical, created_at)
            SELECT gen_random_uuid(), a.id, s.name, '{}', a.created_at
            FROM asset a CROSS JOIN (VALUES ('SIZE_160'), ('SIZE_320')) AS s(name)
            WHERE NOT EXISTS (SELECT 1 FROM format f WHERE f.asset_id = a.id)""",
        """INSERT INTO file_set (id, format_id, asset_id, backend, bucket, created_at)
            SELECT gen_random_uuid(), f.id, f.asset_id, 'filesystem', '', f.created_at
            FROM format f WHERE NOT EXISTS (SELECT 1 FROM file_set s WHERE s.format_id = f.id)""",
        f"""INSERT INTO file (id, file_set_id, asset_id, sha256, name, key, size, md5,
                content_type, width, height, status, technical, created_at)
            SELECT gen_random_uuid(), s.id, s.asset_id, '{BLOB}', 'x.webp', 'k', 2000,
                '{"b" * 32}', 'image/webp', 320, 240, 'closed', '{{}}', s.created_at
            FROM file_set s WHERE NOT EXISTS (SELECT 1 FROM file x WHERE x.file_set_id = s.id)""",
        "ANALYZE",
    ]
    with engine.begin() as connection:
        for statement in statements:
            connection.execute(text(statement))


def timed(client: TestClient, path: str) -> tuple[list[float], list[float]]:
    """Return the wall time and this process's CPU time (all threads) of each request."""
    wall, cpu = [], []
    for _ in range(ROUNDS):
        started, started_cpu = time.perf_counter(), time.process_time()
        response = client.get(path)
        wall.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
        assert response.status_code == 200, (path, response.status_code, response.text[:300])
    return wall, cpu


def measure(engine: Engine, url: str, size: int) -> None:
    with new_session(engine) as session:
        key = create_key(session=session, name=f"bench-{size}", scopes=[Scope.ASSETS]).key
        session.commit()
        newest = session.exec(
            select(Asset).order_by(col(Asset.created_at).desc()).limit(1001)
        ).all()
        oldest = session.exec(select(Asset).order_by(col(Asset.created_at)).limit(1)).one()
        # One title with a word no other asset has: what a person searching usually types.
        oldest.title = "Harbour at dawn"
        session.add(oldest)
        session.commit()
        session.refresh(oldest)
    after_1000 = encode_cursor(newest[999].created_at, newest[999].id)
    pages = {
        "first page": "/",
        "after 1,000": f"/?cursor={after_1000}",
        "kind=image": "/?kind=image",
        "tag=press": "/?tag=press",
        "search, all match": "/?q=synthetic",
        "search, a rare word": "/?q=harbour",
        "search, oldest identifier": f"/?q={oldest.identifier}",
        "an asset's page": f"/library/{newest[0].id}",
    }
    settings = Settings(database_url=url, storage_url="file:///tmp/assetflow-bench-web")
    with TestClient(create_app(settings, send_webhooks=False)) as client:
        client.cookies.set(KEY_COOKIE, key)
        client.get("/")  # warm the pool and the templates
        print(
            f"\npostgresql, {size:,} assets, {ROUNDS} requests each: wall median, p90; "
            f"CPU median; load {os.getloadavg()[0]:.1f}"
        )
        for name, path in pages.items():
            wall, cpu = timed(client, path)
            p90 = sorted(wall)[int(len(wall) * 0.9) - 1]
            print(
                f"  {name:<27} {ms(statistics.median(wall)):>9}  {ms(p90):>9}"
                f"  {ms(statistics.median(cpu)):>9}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--largest", type=int, default=SIZES[-1])
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()}")
    with throwaway_postgres() as url:
        engine = make_engine(url)
        loaded = 0
        try:
            for size in (s for s in SIZES if s <= args.largest):
                load_images(
                    engine, random_hashes(size - loaded, seed=size), first=loaded, tags=["press"]
                )
                loaded = size
                add_sizes(engine)
                measure(engine, url, size)
        finally:
            engine.dispose()


if __name__ == "__main__":
    main()

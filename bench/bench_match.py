"""Clip matching against 1,000 indexed assets: latency and how much the term index saves.

20 structured tracks are made and fingerprinted for real; 980 more assets get
random uint32 fingerprints of 30 s to 5 min (Chromaprint items look random
across unrelated tracks). Every asset's whole-track fingerprint is indexed in
the asset graph's ``fingerprint_term`` table, as ``derive_audio`` records it,
on a SQLite file. 50 queries are noisy 96 kb/s MP3 clips of 10 s cut from the
real tracks at random offsets.

    uv run python bench/bench_match.py
"""

from __future__ import annotations

import random
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlmodel import Session

from models import graph
from models.db import make_engine, new_session
from models.fingerprints import SqlFingerprintIndex, record_fingerprint
from models.migrate import upgrade_database
from models.tables import Project
from tasks.audio.fingerprint import ITEM_DURATION_S, Fingerprint, fingerprint_file
from tasks.audio.matching import index_terms, match_raw
from tests.fixtures.audio_media import noisy_clip, structured_audio

REAL, SYNTHETIC, QUERIES = 20, 980, 50


def main() -> None:
    rng = random.Random(42)
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        durations = [rng.uniform(60, 90) for _ in range(REAL)]
        with ThreadPoolExecutor(max_workers=2) as pool:
            tracks = list(
                pool.map(
                    lambda i: structured_audio(
                        folder / f"real-{i}.wav", seed=1000 + i, duration_s=round(durations[i], 1),
                        sample_rate=11025,
                    ),
                    range(REAL),
                )
            )  # fmt: skip
        database_url = f"sqlite:///{folder / 'assetflow.db'}"
        upgrade_database(database_url)
        engine = make_engine(database_url)
        t0 = time.perf_counter()
        real_ids, stored_items = [], 0
        with new_session(engine) as session:
            project = graph.ensure_project(session=session, name="bench")
            for i, track in enumerate(tracks):
                whole = fingerprint_file(track)
                real_ids.append(_index(session, project, f"real-{i}", whole))
                stored_items += len(whole.raw)
            for i in range(SYNTHETIC):
                seconds = rng.uniform(30, 300)
                raw = [rng.getrandbits(32) for _ in range(int(seconds / ITEM_DURATION_S))]
                noise = Fingerprint(offset_s=0.0, duration_s=seconds, raw=raw, compressed="")
                _index(session, project, f"synthetic-{i}", noise)
                stored_items += len(raw)
            session.commit()
        build_s = time.perf_counter() - t0

        queries = []
        for q in range(QUERIES):
            i = rng.randrange(REAL)
            start = rng.uniform(0, durations[i] - 11)
            clip = noisy_clip(tracks[i], folder / f"clip-{q}.mp3", start_s=start, duration_s=10)
            queries.append((real_ids[i], start, clip))

        lookup, end_to_end, postings, correct = [], [], [], 0
        with new_session(engine) as session:
            index = SqlFingerprintIndex(session)
            for asset, start, clip in queries:
                t = time.perf_counter()
                raw = fingerprint_file(clip).raw
                t_fp = time.perf_counter()
                matches = match_raw(raw, index=index, top=5)
                t_end = time.perf_counter()
                lookup.append(t_end - t_fp)
                end_to_end.append(t_end - t)
                terms = sorted({term for term, _ in index_terms(raw)})
                postings.append(sum(1 for _ in index.candidates(terms)))
                correct += (
                    bool(matches)
                    and matches[0].asset_id == asset
                    and abs(matches[0].offset_s - start) <= 1.0
                )
        engine.dispose()

    print(
        f"index: {REAL + SYNTHETIC} assets, {stored_items} items, built in {build_s:.1f} s (SQLite)"
    )
    print(f"correct (first, offset +-1 s): {correct}/{QUERIES}")
    print(
        f"match_raw (term lookup + vote + verify): median {_ms(statistics.median(lookup))}, "
        f"p95 {_ms(_p95(lookup))}"
    )
    print(
        f"match incl. fpcalc of the clip: median {_ms(statistics.median(end_to_end))}, "
        f"p95 {_ms(_p95(end_to_end))}"
    )
    print(
        f"postings returned per query: median {statistics.median(postings):.0f} "
        f"vs a full scan of {stored_items} stored items "
        f"({statistics.median(postings) / stored_items:.4%})"
    )  # fmt: skip


def _index(session: Session, project: Project, name: str, track: Fingerprint) -> str:
    """Record an asset with its indexed whole-track fingerprint; return the asset's id."""
    asset = graph.create_asset(
        session=session, project=project, identifier=name, source=f"file:///{name}"
    )
    record_fingerprint(session=session, asset_id=asset.id, measured=track, indexed=True)
    return str(asset.id)


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


if __name__ == "__main__":
    main()

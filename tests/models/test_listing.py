"""Listing pages by cursor: every asset once, newest first, under each filter, from indexes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from core.kinds import AssetKind
from models import graph
from models.db import new_session
from models.listing import AssetFilter, InvalidCursor, list_assets, listing_statement
from models.tables import AssetStatus, utcnow
from tests.fixtures.synthetic import EPOCH, TAG, Library, load_images, query_plan, random_hashes


def _walk(session: Session, filters: AssetFilter, limit: int) -> list[str]:
    """Follow the cursors from the first page to the last; return the identifiers in order."""
    seen: list[str] = []
    cursor = None
    while True:
        page = list_assets(session=session, filters=filters, cursor=cursor, limit=limit)
        seen += [asset.identifier for asset, _ in page.rows]
        if page.next_cursor is None:
            return seen
        cursor = page.next_cursor


def test_cursors_walk_every_asset_once_newest_first_under_each_filter(engine: Engine) -> None:
    load_images(engine, random_hashes(30, seed=1), project="news", tags=["press"])
    load_images(engine, random_hashes(25, seed=2), project="sport", first=30)
    with new_session(engine) as session:
        sport = graph.ensure_project(session=session, name="sport")
        # Created in the same microsecond: the id breaks the tie, and neither is lost.
        twins = [
            graph.create_asset(
                session=session, project=sport, identifier=name, source="s", tags=["press", "x"]
            )
            for name in ("twin-a", "twin-b")
        ]
        for twin in twins:
            twin.created_at = EPOCH + timedelta(microseconds=40_500)
        graph.update_asset(session=session, asset=twins[1], tags=["x"], status=AssetStatus.FAILED)
        session.commit()

        # 15 a page: the first page ends between the twins.
        everything = _walk(session, AssetFilter(), limit=15)
        news = [f"synthetic-{n:08d}" for n in reversed(range(30))]
        sport_made = [f"synthetic-{n:08d}" for n in reversed(range(30, 55))]
        twins_order = [t.identifier for t in sorted(twins, key=lambda t: t.id.int, reverse=True)]
        assert everything == sport_made[:14] + twins_order + sport_made[14:] + news
        assert _walk(session, AssetFilter(project="news"), limit=4) == news
        assert _walk(session, AssetFilter(tag="press"), limit=6) == ["twin-a", *news]
        assert _walk(session, AssetFilter(tag="press", project="sport"), limit=6) == ["twin-a"]
        assert _walk(session, AssetFilter(status=AssetStatus.FAILED), limit=5) == ["twin-b"]
        assert _walk(session, AssetFilter(kind=AssetKind.VIDEO), limit=5) == []
        window = AssetFilter(
            created_after=EPOCH + timedelta(milliseconds=10),
            created_before=EPOCH + timedelta(milliseconds=20),
        )
        assert _walk(session, window, limit=3) == news[10:20]
        assert len(_walk(session, AssetFilter(created_after=utcnow()), limit=3)) == 0


def test_a_search_finds_part_of_a_title_or_identifier_in_any_case_wildcards_as_text(
    engine: Engine,
) -> None:
    with new_session(engine) as session:
        project = graph.ensure_project(session=session, name="search")
        for identifier, title in (
            ("harbour-dawn", "Boats at Dawn"),
            ("city-night", "100% Neon"),
            ("a_b", "Underscore"),
            ("axb", "Dawnless"),
        ):
            graph.create_asset(
                session=session, project=project, identifier=identifier, source="s", title=title
            )
        session.commit()

        assert _walk(session, AssetFilter(search="DAWN"), limit=1) == ["axb", "harbour-dawn"]
        assert _walk(session, AssetFilter(search="city"), limit=5) == ["city-night"]
        # % and _ are letters to look for, not LIKE's wildcards.
        assert _walk(session, AssetFilter(search="100%"), limit=5) == ["city-night"]
        assert _walk(session, AssetFilter(search="a_b"), limit=5) == ["a_b"]


def test_a_cursor_that_no_page_handed_out_is_refused(engine: Engine) -> None:
    with new_session(engine) as session:
        for cursor in ("not-a-cursor", "WyIyMDIwIl0", ""):
            with pytest.raises(InvalidCursor, match="is not a cursor of this listing"):
                list_assets(session=session, cursor=cursor)


def test_a_page_is_read_from_an_index_in_order(library: Library) -> None:
    with new_session(library.engine) as session:
        cursor = list_assets(session=session, limit=3).next_cursor
    for filters in (
        AssetFilter(),
        AssetFilter(project="synthetic"),
        AssetFilter(status=AssetStatus.READY),
        AssetFilter(kind=AssetKind.IMAGE),
        AssetFilter(tag=TAG),
    ):
        for after in (None, cursor):
            statement = listing_statement(filters=filters, cursor=after, limit=50)
            plan = query_plan(library.engine, statement)
            # No scan of a table that grows, and no sort: the rows come in index order.
            if library.engine.dialect.name == "postgresql":
                assert "Seq Scan on asset" not in plan and "Sort" not in plan, plan
            else:
                scans = [line for line in plan.splitlines() if line.startswith("SCAN asset")]
                assert all("USING" in line for line in scans), plan
                assert "TEMP B-TREE" not in plan, plan

"""Shared fixtures: every real server a test needs is started by a plugin below."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# No network here, and Prefect's analytics only log errors without it.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

pytest_plugins = [
    "tests.fixtures.seaweed",
    "tests.fixtures.http_server",
    "tests.fixtures.database",
    "tests.fixtures.pipeline",
    "tests.fixtures.prefect_server",
    "tests.fixtures.formats",
]


@pytest.fixture(scope="session", autouse=True)
def _away_from_the_checkouts_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Run the tests in an empty directory.

    ``Settings()`` reads ``.env`` from the working directory, and ``make stack``
    writes one into the checkout. (Set after collection: ``--ignore`` paths are
    relative to where pytest was started.)
    """
    started_in = Path.cwd()
    os.chdir(tmp_path_factory.mktemp("cwd"))
    yield
    os.chdir(started_in)

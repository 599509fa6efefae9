"""Shared fixtures: every real server a test needs is started by a plugin below."""

from __future__ import annotations

import os

# No network here, and Prefect's analytics only log errors without it.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

pytest_plugins = [
    "tests.fixtures.seaweed",
    "tests.fixtures.http_server",
    "tests.fixtures.database",
    "tests.fixtures.pipeline",
    "tests.fixtures.prefect_server",
]

"""Shared fixtures: every real server a test needs is started by a plugin below."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

# No network here, and Prefect's analytics only log errors without it.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

# assetflow's and Prefect's settings both read .env from the working directory,
# and `make stack` writes one into the checkout: the tests run elsewhere.
_RUN_DIR = tempfile.mkdtemp(prefix="assetflow-tests-")
os.chdir(_RUN_DIR)
atexit.register(shutil.rmtree, _RUN_DIR, ignore_errors=True)

pytest_plugins = [
    "tests.fixtures.seaweed",
    "tests.fixtures.http_server",
    "tests.fixtures.database",
    "tests.fixtures.pipeline",
    "tests.fixtures.prefect_server",
]

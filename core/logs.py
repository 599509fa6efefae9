"""assetflow's loggers, and the redaction every record that may hold a source goes through.

A filter on a logger sees only the records logged on that very logger, not
those of its children, so "a filter on the root of assetflow's loggers" is
kept by handing out every assetflow logger from ``get_logger``, which puts the
filter on it. Prefect's run loggers (``get_run_logger()`` logs on
``prefect.flow_runs`` and ``prefect.task_runs``, whose records Prefect's API
handler stores) and httpx's get it from ``install_redaction``, which importing
the ``flows`` package calls.
"""

from __future__ import annotations

import logging

from core.redact import redact_logger

ROOT = "assetflow"
# Loggers outside assetflow's own that see sources: Prefect's run loggers (the
# engine logs a failed task's traceback there), and httpx's request lines.
THIRD_PARTY = ("prefect.flow_runs", "prefect.task_runs", "httpx")


def get_logger(name: str) -> logging.Logger:
    """Return the logger ``assetflow.<name>``, its records redacted."""
    full = f"{ROOT}.{name}"
    redact_logger(full)
    return logging.getLogger(full)


def install_redaction() -> None:
    """Put the redacting filter on assetflow's root logger and the third-party ones; idempotent."""
    for name in (ROOT, *THIRD_PARTY):
        redact_logger(name)

"""The ``deliver-webhooks`` flow: send due webhook deliveries for a while, on a schedule.

Each scheduled run sends for ``for_s`` seconds, a little less than the
schedule's interval, so one run follows another. Runs that overlap (a slow
worker) do not send a delivery twice: claims are row-locked (api/webhooks/outbox.py).
"""

from __future__ import annotations

import threading

from prefect import flow, get_run_logger

from api.webhooks.sender import run_sender
from core.settings import Settings
from models.db import make_engine

# Seconds one run sends for; the deployment starts one every minute.
SEND_FOR_S = 55.0


@flow(name="deliver-webhooks")
def deliver_webhooks_flow(for_s: float = SEND_FOR_S) -> int:
    """Send due webhook deliveries for ``for_s`` seconds; return how many attempts were made."""
    settings = Settings()
    engine = make_engine(settings.database_url)
    try:
        attempts = run_sender(engine, settings, threading.Event(), for_s=for_s)
    finally:
        engine.dispose()
    get_run_logger().info("made %d webhook delivery attempts", attempts)
    return attempts

"""``python -m api.webhooks``: send webhooks until interrupted, with the ASSETFLOW_* settings.

For a process of its own beside API processes that send none (Prefect mode
without the deliver-webhooks deployment); any number may run at once.
"""

from __future__ import annotations

import logging
import signal
import threading

from api.webhooks.sender import run_sender
from core.settings import Settings
from models.db import make_engine


def main() -> None:
    """Run the sender; SIGTERM or Ctrl-C stops it after the round under way."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    settings = Settings()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    engine = make_engine(settings.database_url)
    try:
        run_sender(engine, settings, stop)
    except KeyboardInterrupt:
        pass
    finally:
        engine.dispose()


if __name__ == "__main__":
    main()

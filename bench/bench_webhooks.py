"""1,000 webhook deliveries to a local receiver: time and deliveries per second.

The events are written first (outbox rows, as the API writes them); then a
sender (the one ``assetflow api`` runs) hands them over, signs and posts
them to a receiver on 127.0.0.1 that verifies every signature with
``standardwebhooks``, until all 1,000 have arrived. Two spreads: over 100
assets (deliveries of different assets go in parallel) and on one asset
(strictly one after another, in order). On PostgreSQL if it answers, and on SQLite.

Run: ``uv run python -m bench.bench_webhooks [--events 1000] [--concurrency 8]``
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from standardwebhooks import Webhook

from api.webhooks.sender import WebhookSender
from api.webhooks.subscriptions import EVENT_TYPES, create_subscription
from bench.bench_orchestration import fresh_database
from core.settings import Settings
from models import graph
from models.db import make_engine, new_session
from models.migrate import upgrade_database
from models.tables import Event

TIMEOUT_S = 300.0


class _Receiver(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.verifier: Webhook | None = None
        self.ids: set[str] = set()
        self.posts = 0
        self.changed = threading.Condition()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        assert self.server.verifier is not None
        self.server.verifier.verify(body, dict(self.headers.items()))
        with self.server.changed:
            self.server.ids.add(self.headers["webhook-id"])
            self.server.posts += 1
            self.server.changed.notify_all()
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def _receiver() -> Iterator[_Receiver]:
    server = _Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def _write_events(database_url: str, url: str, events: int, assets: int) -> str:
    engine = make_engine(database_url)
    with new_session(engine) as session:
        secret = create_subscription(session=session, url=url, events=EVENT_TYPES).secret
        session.commit()
        project = graph.ensure_project(session=session, name="bench")
        owners = [
            graph.create_asset(session=session, project=project, identifier=f"a{n}", source="")
            for n in range(assets)
        ]
        # create_asset wrote one event each (asset.created); the rest are asset.changed.
        session.add_all(
            Event(asset_id=owners[n % assets].id, type="asset.changed", payload={"n": n})
            for n in range(events - assets)
        )
        session.commit()
    engine.dispose()
    return secret


def deliver(database_url: str, events: int, assets: int, concurrency: int) -> dict[str, object]:
    """Time the sender delivering ``events`` spread over ``assets``."""
    with _receiver() as receiver:
        url = f"http://127.0.0.1:{receiver.server_address[1]}/hook/{uuid.uuid4().hex}"
        receiver.verifier = Webhook(_write_events(database_url, url, events, assets))
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            database_url=database_url,
            allowed_networks=[ipaddress.ip_network("127.0.0.1/32")],
            webhook_concurrency=concurrency,
            webhook_poll_s=0.05,
        )
        engine = make_engine(database_url)
        sender = WebhookSender(engine, settings)
        started = time.perf_counter()
        sender.start()
        with receiver.changed:
            arrived = receiver.changed.wait_for(lambda: len(receiver.ids) >= events, TIMEOUT_S)
        elapsed = time.perf_counter() - started
        sender.close()
        engine.dispose()
    return {
        "events": events,
        "assets": assets,
        "all_arrived": arrived,
        "posts": receiver.posts,
        "seconds": round(elapsed, 2),
        "deliveries_per_s": round(len(receiver.ids) / elapsed, 1),
    }


@contextmanager
def _store(kind: str, root: Path) -> Iterator[str]:
    """A fresh migrated store: PostgreSQL ("default", when it answers) or SQLite."""
    if kind == "default":
        with fresh_database(root) as url:
            yield url
        return
    url = f"sqlite:///{root / f'{uuid.uuid4().hex}.db'}"
    upgrade_database(url)
    yield url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    results: dict[str, object] = {"load_average_before": os.getloadavg()}
    with tempfile.TemporaryDirectory() as tmp:
        for kind in ("default", "sqlite"):
            for assets in (100, 1):
                with _store(kind, Path(tmp)) as url:
                    name = f"{url.split(':', 1)[0].split('+')[0]}_{assets}_assets"
                    results[name] = deliver(url, args.events, assets, args.concurrency)
                print(json.dumps({name: results[name]}), flush=True)
    results["load_average_after"] = os.getloadavg()
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

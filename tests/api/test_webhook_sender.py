"""The webhook sender against a real receiver, on SQLite and PostgreSQL.

A killed sender process is replaced and the rest arrive; a thousand events
arrive, none lost, in order per asset; a receiver on a refused address never
hears a thing.
"""

from __future__ import annotations

import ipaddress
import os
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from api.webhooks.sender import WebhookSender
from api.webhooks.subscriptions import EVENT_TYPES, create_subscription
from core.settings import Settings
from flows.deliver_webhooks import deliver_webhooks_flow
from models import graph
from models.db import make_engine, new_session
from models.tables import DeliveryStatus, Event, WebhookAttempt, WebhookDelivery
from tests.fixtures.http_server import LocalHTTPServer
from tests.fixtures.pipeline import export_settings
from tests.fixtures.webhook_receiver import WebhookReceiver

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _settings(database_url: str, *, concurrency: int = 8) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=database_url,
        allowed_networks=[ipaddress.ip_network("127.0.0.1/32")],
        webhook_retry_schedule_s=[0.05, 0.05, 0.05],
        webhook_poll_s=0.02,
        webhook_timeout_s=1.0,
        webhook_lease_s=1.5,
        webhook_concurrency=concurrency,
    )


def _subscribe(engine: Engine, url: str) -> str:
    """Subscribe ``url`` to every event; return the secret."""
    with new_session(engine) as session:
        subscription = create_subscription(session=session, url=url, events=EVENT_TYPES)
        session.commit()
        return subscription.secret


def _events(engine: Engine, *, assets: int, per_asset: int) -> dict[str, list[int]]:
    """Write ``per_asset`` events for each of ``assets`` new assets; return their ids by asset."""
    written: dict[str, list[int]] = {}
    with new_session(engine) as session:
        project = graph.ensure_project(session=session, name="hooks")
        rows = []
        for number in range(assets):
            asset = graph.create_asset(
                session=session, project=project, identifier=f"a{number}", source=""
            )
            rows += [
                Event(asset_id=asset.id, type="asset.changed", payload={"n": n})
                for n in range(per_asset - 1)
            ]
        session.add_all(rows)
        session.commit()
        for event in session.exec(select(Event).order_by(Event.id)).all():  # type: ignore[arg-type]
            written.setdefault(str(event.asset_id), []).append(int(event.id or 0))
    return written


def _in_order_per_asset(receiver: WebhookReceiver) -> dict[str, list[int]]:
    """The accepted message ids by asset, first arrival of each, in arrival order."""
    seen: dict[str, list[int]] = {}
    for message in receiver.accepted:
        ids = seen.setdefault(str(message.data["asset_id"]), [])
        if int(message.message_id) not in ids:
            ids.append(int(message.message_id))
    return seen


@pytest.fixture
def sender_factory(engine: Engine) -> Iterator[list[WebhookSender]]:
    """Senders started by a test, stopped at its end."""
    senders: list[WebhookSender] = []
    yield senders
    for sender in senders:
        sender.close()


def test_a_thousand_events_arrive_none_lost_in_order_per_asset(
    engine: Engine,
    database_url: str,
    http_server: LocalHTTPServer,
    sender_factory: list[WebhookSender],
) -> None:
    receiver = WebhookReceiver()
    receiver.secret = _subscribe(engine, http_server.route(f"/{uuid.uuid4().hex}", receiver))
    written = _events(engine, assets=50, per_asset=20)
    assert sum(map(len, written.values())) == 1000

    sender = WebhookSender(engine, _settings(database_url, concurrency=16))
    sender_factory.append(sender)
    sender.start()

    # At least once: a delivery whose answer was lost comes again, under its webhook-id.
    receiver.wait_for(lambda r: len({m.message_id for m in r.accepted}) == 1000)
    assert _in_order_per_asset(receiver) == written
    assert receiver.rejected == 0


def test_a_500_is_retried_with_the_same_webhook_id(
    engine: Engine,
    database_url: str,
    http_server: LocalHTTPServer,
    sender_factory: list[WebhookSender],
) -> None:
    receiver = WebhookReceiver(failures=1)
    receiver.secret = _subscribe(engine, http_server.route(f"/{uuid.uuid4().hex}", receiver))
    written = _events(engine, assets=1, per_asset=2)
    sender = WebhookSender(engine, _settings(database_url))
    sender_factory.append(sender)
    sender.start()

    receiver.wait_for(lambda r: len({m.message_id for m in r.accepted}) == 2)
    first = receiver.received[0]
    assert first.status == 500
    # The second event waited for the first: order per asset holds through a retry.
    assert _in_order_per_asset(receiver) == written
    assert receiver.accepted[0].message_id == first.message_id


def test_a_killed_sender_is_replaced_and_the_rest_arrive(
    engine: Engine, database_url: str, http_server: LocalHTTPServer, tmp_path: Path
) -> None:
    receiver = WebhookReceiver(hold_request=3)
    receiver.secret = _subscribe(engine, http_server.route(f"/{uuid.uuid4().hex}", receiver))
    written = _events(engine, assets=1, per_asset=8)
    settings = _settings(database_url)
    environment = {
        **os.environ,
        "PYTHONPATH": str(PROJECT_ROOT),
        "ASSETFLOW_DATABASE_URL": database_url,
        "ASSETFLOW_ALLOWED_NETWORKS": "127.0.0.1/32",
        "ASSETFLOW_WEBHOOK_RETRY_SCHEDULE_S": "0.05,0.05",
        "ASSETFLOW_WEBHOOK_POLL_S": str(settings.webhook_poll_s),
        "ASSETFLOW_WEBHOOK_TIMEOUT_S": str(settings.webhook_timeout_s),
        "ASSETFLOW_WEBHOOK_LEASE_S": str(settings.webhook_lease_s),
    }

    def sender() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "api.webhooks"],
            cwd=tmp_path,
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    first = sender()
    try:
        assert receiver.held.wait(60), "the sender never reached the third event"
        first.send_signal(signal.SIGKILL)  # mid-delivery: posted, answer not yet read
        first.wait(10)
    finally:
        receiver.release.set()
        if first.poll() is None:
            first.kill()
    second = sender()
    try:
        receiver.wait_for(lambda r: len({m.message_id for m in r.accepted}) == 8)
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(10)

    ids = next(iter(written.values()))
    assert _in_order_per_asset(receiver) == {str(receiver.received[0].data["asset_id"]): ids}
    # The one in flight at the kill came twice, under one webhook-id: the receiver may drop it.
    assert [m.message_id for m in receiver.received].count(str(ids[2])) == 2
    with new_session(engine) as session:
        statuses = set(session.exec(select(WebhookDelivery.status)).all())
    assert statuses == {DeliveryStatus.DELIVERED}


def test_a_receiver_on_a_refused_address_hears_nothing(
    engine: Engine,
    database_url: str,
    blocked_http_server: LocalHTTPServer,
    sender_factory: list[WebhookSender],
) -> None:
    receiver = WebhookReceiver()
    receiver.secret = _subscribe(engine, blocked_http_server.route("/hook", receiver))
    _events(engine, assets=1, per_asset=1)
    stopped = threading.Event()

    sender = WebhookSender(engine, _settings(database_url))
    sender_factory.append(sender)
    sender.start()

    with new_session(engine) as session:
        while not stopped.wait(0.02):  # the sender records its failure: polled, no event to await
            delivery = session.exec(select(WebhookDelivery)).first()
            session.expire_all()
            if delivery is not None and delivery.status != DeliveryStatus.PENDING:
                break
        assert delivery is not None
        assert delivery.status == DeliveryStatus.FAILED
        assert delivery.attempts == 1  # refused at once, never retried
        [attempt] = session.exec(select(WebhookAttempt)).all()
    assert attempt.status_code is None
    assert "loopback address 127.0.0.2" in (attempt.error or "")
    assert blocked_http_server.all_requests() == []


def test_the_deliver_webhooks_flow_sends_what_is_due(
    prefect_server: None,
    sqlite_url: str,
    http_server: LocalHTTPServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine = make_engine(sqlite_url)
    receiver = WebhookReceiver()
    receiver.secret = _subscribe(engine, http_server.route(f"/{uuid.uuid4().hex}", receiver))
    written = _events(engine, assets=2, per_asset=3)
    # The flow reads its settings from the environment, as a worker's run would.
    export_settings(monkeypatch, _settings(sqlite_url))

    state = deliver_webhooks_flow(for_s=1.0, return_state=True)

    assert state.is_completed() and state.result() == 6
    assert _in_order_per_asset(receiver) == written
    engine.dispose()

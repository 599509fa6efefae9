"""Send due webhook deliveries: one round, and the loop that repeats it.

    deliver_round(engine, settings, client, pool)   hand over, claim, post, record
    run_sender(engine, settings, stop)              rounds until ``stop`` is set
    WebhookSender                                   that loop on a thread (``assetflow api``)

Receivers are reached through the same address guard as sources
(tasks/net_guard.py): a URL that resolves to a refused address fails its
delivery without a retry, and no redirect is followed.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import httpx
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from api.webhooks.outbox import Claimed, Outcome, claim, hand_over, record
from api.webhooks.signing import signed_headers
from core.errors import ForbiddenSource
from core.logs import get_logger
from core.settings import Settings
from models.tables import utcnow
from tasks.net_guard import GuardedTransport

logger = get_logger("webhooks")

# Deliveries of one asset a sender takes at once and sends one after another: fewer
# rounds through the database for a burst of one asset's events.
RUN_PER_ASSET = 25
# Characters of a receiver's answer kept when it is not a 2xx, to show in the delivery log.
ANSWER_SHOWN = 200


def webhook_client(settings: Settings) -> httpx.Client:
    """An HTTP client that reaches only addresses the guard permits, and follows no redirect."""
    return httpx.Client(
        transport=GuardedTransport(allowed=settings.allowed_networks),
        timeout=httpx.Timeout(settings.webhook_timeout_s),
        follow_redirects=False,
        headers={"user-agent": "assetflow-webhooks/1"},
    )


def send(client: httpx.Client, delivery: Claimed) -> Outcome:
    """Post one delivery, signed; say what the receiver answered, or why none came."""
    headers = signed_headers(
        secret=delivery.secret,
        message_id=delivery.message_id,
        timestamp=utcnow(),
        body=delivery.body,
    )
    started = time.monotonic()
    status_code: int | None = None
    error: str | None = None
    final = False
    try:
        response = client.post(delivery.url, content=delivery.body.encode(), headers=headers)
        status_code = response.status_code
        if not response.is_success:
            error = f"the receiver answered {status_code}: {response.text[:ANSWER_SHOWN]}"
    except ForbiddenSource as exc:
        error, final = str(exc), True
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    elapsed_ms = int((time.monotonic() - started) * 1000)
    return Outcome(delivery.delivery_id, delivery.attempt, status_code, error, elapsed_ms, final)


def _send_run(
    client: httpx.Client, run: Sequence[Claimed], deadline: float, timeout_s: float
) -> tuple[list[Outcome], list[uuid.UUID]]:
    """Send one asset's deliveries in order; stop at the first failure, or near the lease's end.

    Returns the outcomes, and the deliveries left unsent (to release).
    """
    outcomes: list[Outcome] = []
    for position, delivery in enumerate(run):
        # An attempt that could outlast the lease might overlap another sender's.
        if time.monotonic() + timeout_s >= deadline:
            return outcomes, [later.delivery_id for later in run[position:]]
        outcome = send(client, delivery)
        outcomes.append(outcome)
        if not outcome.delivered:
            return outcomes, [later.delivery_id for later in run[position + 1 :]]
    return outcomes, []


def deliver_round(
    engine: Engine, settings: Settings, client: httpx.Client, pool: ThreadPoolExecutor
) -> int:
    """Hand over new events, then send what is due, assets in parallel; return the attempts."""
    hand_over(engine)
    deadline = time.monotonic() + settings.webhook_lease_s
    claimed = claim(
        engine,
        heads=settings.webhook_concurrency * 4,
        run=RUN_PER_ASSET,
        lease_s=settings.webhook_lease_s,
    )
    runs: dict[tuple[uuid.UUID, str], list[Claimed]] = defaultdict(list)
    for delivery in claimed:  # in event order
        runs[delivery.run_key].append(delivery)
    outcomes: list[Outcome] = []
    released: list[uuid.UUID] = []
    for sent, unsent in pool.map(
        lambda run: _send_run(client, run, deadline, settings.webhook_timeout_s), runs.values()
    ):
        outcomes += sent
        released += unsent
    record(engine, outcomes, schedule=settings.webhook_retry_schedule_s, released=released)
    for outcome in outcomes:
        if not outcome.delivered:
            logger.info(
                "webhook delivery %s, try %d: %s",
                outcome.delivery_id,
                outcome.attempt,
                outcome.error,
            )
    return len(outcomes)


def run_sender(
    engine: Engine, settings: Settings, stop: threading.Event, *, for_s: float | None = None
) -> int:
    """Send rounds until ``stop`` is set (or ``for_s`` seconds passed); return the attempts made.

    Waits ``webhook_poll_s`` between rounds when nothing was due.
    """
    deadline = None if for_s is None else time.monotonic() + for_s
    attempts = 0
    with (
        webhook_client(settings) as client,
        ThreadPoolExecutor(settings.webhook_concurrency, thread_name_prefix="webhook") as pool,
    ):
        while not stop.is_set() and (deadline is None or time.monotonic() < deadline):
            try:
                sent = deliver_round(engine, settings, client, pool)
            except OperationalError as exc:
                # The database is away or busy: nothing is lost, the next round tries again.
                logger.warning("webhook sender: the database failed, trying again: %s", exc)
                sent = 0
            attempts += sent
            if not sent:
                stop.wait(settings.webhook_poll_s)
    return attempts


class WebhookSender:
    """``run_sender`` on a daemon thread, for an API process that sends its own webhooks."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(engine, settings), name="webhook-sender", daemon=True
        )

    def _run(self, engine: Engine, settings: Settings) -> None:
        try:
            run_sender(engine, settings, self._stop)
        except Exception:
            logger.exception("the webhook sender stopped")

    def start(self) -> None:
        """Start sending."""
        self._thread.start()

    def close(self) -> None:
        """Stop after the round under way (its attempts are recorded)."""
        self._stop.set()
        self._thread.join(timeout=30)

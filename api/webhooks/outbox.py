"""The sender's side of the outbox: events become deliveries; due ones are claimed, then recorded.

Each step is one short transaction, so no lock is held while a receiver is
called. Claiming is a single ``UPDATE ... WHERE id IN (SELECT ... FOR UPDATE
SKIP LOCKED)``: on PostgreSQL two senders never take the same row, on SQLite
the statement runs under the one writer's lock. A claim moves the delivery's
``next_attempt_at`` on by the lease, which is what keeps other senders off it
until the attempt is recorded, or, when its sender died, until the lease lapses.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, exists, func, insert, tuple_, update
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from api.schemas import EventObject
from api.webhooks.subscriptions import live_subscriptions
from models.db import new_session
from models.tables import (
    DeliveryStatus,
    Event,
    WebhookAttempt,
    WebhookDelivery,
    WebhookSubscription,
    utcnow,
)

# Each retry delay is stretched or shrunk at random by up to this share, so the
# deliveries failed by one outage do not all come back at the same moment.
JITTER = 0.2


@dataclass(frozen=True)
class Claimed:
    """A delivery taken by this sender: where it goes, what it says, which try this is."""

    delivery_id: uuid.UUID
    attempt: int
    # Deliveries with the same run key go one after another, in event order.
    run_key: tuple[uuid.UUID, str]
    url: str
    secret: str
    message_id: str
    body: str


@dataclass(frozen=True)
class Outcome:
    """What came of one attempt. ``final`` failures (a refused address) are not retried."""

    delivery_id: uuid.UUID
    attempt: int
    status_code: int | None
    error: str | None
    duration_ms: int
    final: bool = False

    @property
    def delivered(self) -> bool:
        """Whether the receiver took it: any 2xx answer."""
        return self.status_code is not None and 200 <= self.status_code < 300


def _matches(subscription: WebhookSubscription, event: Any) -> bool:
    if event.type not in subscription.events:
        return False
    if subscription.job_id is not None:
        return bool(event.job_id == subscription.job_id)
    # A subscription takes the events written from its creation on.
    return bool(event.created_at >= subscription.created_at)


def _order_key(event: Any) -> str:
    """Deliveries about the same asset (else the same task) go out in event order."""
    return str(event.asset_id or event.job_id or f"event-{event.id}")


def hand_over(engine: Engine, *, limit: int = 500) -> int:
    """Make the deliveries of events not handed over yet; return how many events were."""
    with new_session(engine) as session:
        pending = (
            select(col(Event.id))
            .where(col(Event.delivered_at).is_(None))
            .order_by(col(Event.id))
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        # Marked first: on SQLite the write lock is taken before anything is read.
        events = session.execute(
            update(Event)
            .where(col(Event.id).in_(pending.scalar_subquery()))
            .values(delivered_at=utcnow())
            .returning(
                col(Event.id),
                col(Event.asset_id),
                col(Event.job_id),
                col(Event.type),
                col(Event.created_at),
            )
        ).all()
        if not events:
            session.rollback()
            return 0
        subscriptions = live_subscriptions(session)
        now = utcnow()
        rows = [
            {
                "id": uuid.uuid4(),
                "subscription_id": subscription.id,
                "event_id": event.id,
                "order_key": _order_key(event),
                "status": DeliveryStatus.PENDING,
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
            for event in sorted(events, key=lambda event: event.id)
            for subscription in subscriptions
            if _matches(subscription, event)
        ]
        if rows:
            session.execute(insert(WebhookDelivery), rows)
        session.commit()
        return len(events)


def claim(engine: Engine, *, heads: int, run: int, lease_s: float) -> list[Claimed]:
    """Take due deliveries for a lease: up to ``heads`` assets, up to ``run`` of each, in order.

    The first unsent delivery of an asset is claimed under row locks; the ones
    after it are then safe to take too, since no other sender takes a delivery
    while an earlier one of its asset is pending.
    """
    now = utcnow()
    earlier = aliased(WebhookDelivery)
    first_of_its_asset = ~exists().where(
        col(earlier.subscription_id) == col(WebhookDelivery.subscription_id),
        col(earlier.order_key) == col(WebhookDelivery.order_key),
        col(earlier.status) == DeliveryStatus.PENDING,
        col(earlier.event_id) < col(WebhookDelivery.event_id),
    )
    due = (
        select(col(WebhookDelivery.id))
        .where(
            col(WebhookDelivery.status) == DeliveryStatus.PENDING,
            col(WebhookDelivery.next_attempt_at) <= now,
            first_of_its_asset,
        )
        .order_by(col(WebhookDelivery.event_id))
        .limit(heads)
        .with_for_update(skip_locked=True, of=WebhookDelivery)
    )
    leased = {
        "attempts": col(WebhookDelivery.attempts) + 1,
        "next_attempt_at": now + timedelta(seconds=lease_s),
    }
    with new_session(engine) as session:
        firsts = session.execute(
            update(WebhookDelivery)
            .where(col(WebhookDelivery.id).in_(due.scalar_subquery()))
            .values(**leased)
            .returning(
                col(WebhookDelivery.id),
                col(WebhookDelivery.subscription_id),
                col(WebhookDelivery.order_key),
            )
        ).all()
        taken = [first.id for first in firsts]
        if firsts and run > 1:
            keys = [(first.subscription_id, first.order_key) for first in firsts]
            taken += _take_the_rest_of_each_run(session, keys, run, now, leased)
        claimed = _describe(session, taken, now) if taken else []
        session.commit()
    return claimed


def _take_the_rest_of_each_run(
    session: Session,
    keys: Sequence[tuple[uuid.UUID, str]],
    run: int,
    now: datetime,
    leased: dict[str, Any],
) -> list[uuid.UUID]:
    """Lease the due deliveries that follow each claimed first one, up to ``run`` per asset."""
    position = (
        func.row_number()
        .over(
            partition_by=(col(WebhookDelivery.subscription_id), col(WebhookDelivery.order_key)),
            order_by=col(WebhookDelivery.event_id),
        )
        .label("position")
    )
    queue = (
        select(col(WebhookDelivery.id), position)
        .where(
            col(WebhookDelivery.status) == DeliveryStatus.PENDING,
            col(WebhookDelivery.next_attempt_at) <= now,
            tuple_(col(WebhookDelivery.subscription_id), col(WebhookDelivery.order_key)).in_(keys),
        )
        .subquery()
    )
    following = select(queue.c.id).where(queue.c.position < run)
    return list(
        session.execute(
            update(WebhookDelivery)
            .where(col(WebhookDelivery.id).in_(following.scalar_subquery()))
            .values(**leased)
            .returning(col(WebhookDelivery.id))
        ).scalars()
    )


def _describe(session: Session, delivery_ids: Sequence[uuid.UUID], now: datetime) -> list[Claimed]:
    rows = session.exec(
        select(WebhookDelivery, WebhookSubscription, Event)
        .join(WebhookSubscription, col(WebhookSubscription.id) == WebhookDelivery.subscription_id)
        .join(Event, col(Event.id) == WebhookDelivery.event_id)
        .where(col(WebhookDelivery.id).in_(delivery_ids))
        .order_by(col(WebhookDelivery.event_id))
    ).all()
    return [
        Claimed(
            delivery_id=delivery.id,
            attempt=delivery.attempts,
            run_key=(delivery.subscription_id, delivery.order_key),
            url=subscription.url,
            secret=subscription.secret,
            message_id=str(event.id),
            body=message_body(event, now),
        )
        for delivery, subscription, event in rows
    ]


def message_body(event: Event, now: datetime) -> str:
    """The JSON a receiver gets: the specification's ``type``, ``timestamp``, ``data``."""
    assert event.id is not None
    data = EventObject(
        id=event.id,
        type=event.type,
        asset_id=event.asset_id,
        task_id=event.job_id,
        payload=event.payload,
        created=event.created_at,
    )
    return json.dumps(
        {"type": event.type, "timestamp": now.isoformat(), "data": data.model_dump(mode="json")},
        separators=(",", ":"),
    )


def retry_delay_s(attempt: int, schedule: Sequence[float]) -> float | None:
    """Seconds before the try after ``attempt`` (1-based), with jitter; None: give up."""
    if attempt > len(schedule):
        return None
    return schedule[attempt - 1] * random.uniform(1 - JITTER, 1 + JITTER)


def record(
    engine: Engine,
    outcomes: Sequence[Outcome],
    *,
    schedule: Sequence[float],
    released: Sequence[uuid.UUID] = (),
) -> None:
    """Write each attempt and move its delivery on: delivered, retried later, or failed.

    ``released`` are claimed deliveries not tried (one before them failed): due
    again at once, their claim not counted as an attempt.
    """
    if not outcomes and not released:
        return
    now = utcnow()
    with new_session(engine) as session:
        if released:
            session.execute(
                update(WebhookDelivery)
                .where(
                    col(WebhookDelivery.id).in_(released),
                    col(WebhookDelivery.status) == DeliveryStatus.PENDING,
                )
                .values(attempts=col(WebhookDelivery.attempts) - 1, next_attempt_at=now)
            )
        for outcome in outcomes:
            session.add(
                WebhookAttempt(
                    delivery_id=outcome.delivery_id,
                    number=outcome.attempt,
                    status_code=outcome.status_code,
                    error=outcome.error,
                    duration_ms=outcome.duration_ms,
                    attempted_at=now,
                )
            )
            delay = None if outcome.final else retry_delay_s(outcome.attempt, schedule)
            changes: dict[str, Any]
            if outcome.delivered:
                changes = {"status": DeliveryStatus.DELIVERED, "delivered_at": now}
            elif delay is None:
                changes = {"status": DeliveryStatus.FAILED}
            else:
                changes = {"next_attempt_at": now + timedelta(seconds=delay)}
            # Only a delivery still pending moves: a deleted subscription's stays cancelled.
            session.execute(
                update(WebhookDelivery)
                .where(
                    col(WebhookDelivery.id) == outcome.delivery_id,
                    col(WebhookDelivery.status) == DeliveryStatus.PENDING,
                )
                .values(**changes)
            )
        session.commit()

"""Webhook subscriptions: made with a secret shown once, listed, deleted."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import update
from sqlmodel import Session, col, select

from api.webhooks.signing import new_secret
from models.tables import DeliveryStatus, WebhookDelivery, WebhookSubscription, utcnow

# Every event type the outbox writes (models/graph.py).
EVENT_TYPES = (
    "asset.created",
    "asset.changed",
    "asset.deleted",
    "asset.ready",
    "asset.failed",
    "task.completed",
    "task.failed",
)
# What a task's one-off subscription (``webhook_url`` on POST /tasks) takes.
TASK_EVENT_TYPES = ("task.completed", "task.failed")


def create_subscription(
    *, session: Session, url: str, events: Sequence[str], job_id: uuid.UUID | None = None
) -> WebhookSubscription:
    """Add a subscription with a new secret; ``job_id`` limits it to that task's events."""
    unknown = sorted(set(events) - set(EVENT_TYPES))
    if unknown:
        raise ValueError(f"unknown event type {unknown[0]!r}")
    subscription = WebhookSubscription(
        url=url, events=list(dict.fromkeys(events)), secret=new_secret(), job_id=job_id
    )
    session.add(subscription)
    return subscription


def live_subscriptions(session: Session) -> Sequence[WebhookSubscription]:
    """Return the subscriptions not deleted, oldest first."""
    return session.exec(
        select(WebhookSubscription)
        .where(col(WebhookSubscription.deleted_at).is_(None))
        .order_by(col(WebhookSubscription.created_at))
    ).all()


def delete_subscription(*, session: Session, subscription: WebhookSubscription) -> None:
    """Stop a subscription: nothing more is sent to it; its delivery log stays readable."""
    subscription.deleted_at = utcnow()
    session.add(subscription)
    session.execute(
        update(WebhookDelivery)
        .where(
            col(WebhookDelivery.subscription_id) == subscription.id,
            col(WebhookDelivery.status) == DeliveryStatus.PENDING,
        )
        .values(status=DeliveryStatus.CANCELLED)
    )

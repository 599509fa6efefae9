"""Webhook subscriptions (POST, GET, DELETE /webhooks) and their deliveries."""

from __future__ import annotations

import uuid
from collections import defaultdict
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from sqlmodel import Session, col, select

from api.auth import require
from api.context import Context, DbSession
from api.errors import ApiError, ErrorBody
from api.keys import Scope
from api.listing import DEFAULT_LIMIT, MAX_LIMIT
from api.schemas import (
    AttemptObject,
    DeliveryObject,
    DeliveryPage,
    WebhookCreate,
    WebhookCreated,
    WebhookObject,
    WebhookPage,
)
from api.webhooks.receivers import refuse_a_blocked_receiver
from api.webhooks.subscriptions import create_subscription, delete_subscription, live_subscriptions
from models.tables import (
    DeliveryStatus,
    Event,
    WebhookAttempt,
    WebhookDelivery,
    WebhookSubscription,
)

router = APIRouter(tags=["webhooks"], dependencies=[Depends(require(Scope.ASSETS))])


def webhook_object(subscription: WebhookSubscription) -> WebhookObject:
    """Show a subscription, without its secret."""
    return WebhookObject(
        id=subscription.id,
        url=subscription.url,
        events=subscription.events,
        task_id=subscription.job_id,
        created=subscription.created_at,
    )


def webhook_created(subscription: WebhookSubscription) -> WebhookCreated:
    """Show a subscription just made, with its secret."""
    return WebhookCreated(**webhook_object(subscription).model_dump(), secret=subscription.secret)


@router.post(
    "/webhooks",
    status_code=201,
    response_model=WebhookCreated,
    responses={422: {"model": ErrorBody}},
)
def create_webhook(
    body: WebhookCreate, context: Context, session: DbSession, response: Response
) -> WebhookCreated:
    """Subscribe a receiver to events; the answer holds its signing secret, shown this once."""
    refuse_a_blocked_receiver(body.url, context.settings.allowed_networks)
    subscription = create_subscription(session=session, url=body.url, events=body.events)
    session.commit()
    response.headers["Location"] = f"/webhooks/{subscription.id}"
    return webhook_created(subscription)


@router.get("/webhooks", response_model=WebhookPage)
def list_webhooks(session: DbSession) -> WebhookPage:
    """List the live subscriptions, oldest first."""
    return WebhookPage(data=[webhook_object(row) for row in live_subscriptions(session)])


def _live(session: Session, webhook_id: uuid.UUID) -> WebhookSubscription:
    subscription = session.get(WebhookSubscription, webhook_id)
    if subscription is None or subscription.deleted_at is not None:
        raise ApiError(404, "webhook not found")
    return subscription


@router.delete("/webhooks/{webhook_id}", status_code=204, responses={404: {"model": ErrorBody}})
def delete_webhook(webhook_id: uuid.UUID, session: DbSession) -> Response:
    """Delete a subscription: its pending deliveries are cancelled."""
    delete_subscription(session=session, subscription=_live(session, webhook_id))
    session.commit()
    return Response(status_code=204)


@router.get(
    "/webhooks/{webhook_id}/deliveries",
    response_model=DeliveryPage,
    responses={404: {"model": ErrorBody}},
)
def list_deliveries(
    webhook_id: uuid.UUID,
    session: DbSession,
    before: Annotated[
        int | None, Query(ge=1, description="An event id: deliveries of older ones")
    ] = None,
    status: DeliveryStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> DeliveryPage:
    """List a subscription's deliveries, newest event first, each with its attempts."""
    subscription = session.get(WebhookSubscription, webhook_id)
    if subscription is None:
        raise ApiError(404, "webhook not found")
    statement = (
        select(WebhookDelivery, Event.type)
        .join(Event, col(Event.id) == WebhookDelivery.event_id)
        .where(col(WebhookDelivery.subscription_id) == webhook_id)
    )
    if before is not None:
        statement = statement.where(col(WebhookDelivery.event_id) < before)
    if status is not None:
        statement = statement.where(col(WebhookDelivery.status) == status)
    rows = session.exec(
        statement.order_by(col(WebhookDelivery.event_id).desc()).limit(limit + 1)
    ).all()
    page = rows[:limit]
    attempts: dict[uuid.UUID, list[AttemptObject]] = defaultdict(list)
    for attempt in session.exec(
        select(WebhookAttempt)
        .where(col(WebhookAttempt.delivery_id).in_([delivery.id for delivery, _ in page]))
        .order_by(col(WebhookAttempt.number), col(WebhookAttempt.attempted_at))
    ).all():
        attempts[attempt.delivery_id].append(
            AttemptObject(
                number=attempt.number,
                status_code=attempt.status_code,
                error=attempt.error,
                duration_ms=attempt.duration_ms,
                attempted=attempt.attempted_at,
            )
        )
    return DeliveryPage(
        data=[
            DeliveryObject(
                id=delivery.id,
                event_id=delivery.event_id,
                event_type=event_type,
                status=delivery.status,
                next_attempt=(
                    delivery.next_attempt_at if delivery.status == DeliveryStatus.PENDING else None
                ),
                created=delivery.created_at,
                delivered=delivery.delivered_at,
                attempts=attempts[delivery.id],
            )
            for delivery, event_type in page
        ],
        next_cursor=page[-1][0].event_id if len(rows) > limit else None,
    )

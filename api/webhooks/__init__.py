"""Signed webhooks on the event outbox, after the Standard Webhooks specification.

    subscriptions.py   make, list and delete subscriptions; their secrets
    outbox.py          events -> deliveries, claiming due ones, recording attempts
    signing.py         the webhook-id / webhook-timestamp / webhook-signature headers
    sender.py          one round of sending, and the loop that repeats it

A sender hands each new event to the subscriptions that take it (a delivery
row each), claims due deliveries under a lease, posts them and records the
answer. Deliveries of one asset go one at a time in event order; a failed one
is retried on ``Settings.webhook_retry_schedule_s`` before the next of that
asset goes. Every state lives in the database, so a sender that dies loses
nothing: its claims lapse and another sender (or itself, restarted) takes them.
"""

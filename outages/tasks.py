"""Webhook jobs. Each takes ids, calls one service, and is safe to run twice: the notify
claim announces a change once, a delivered delivery is not sent again, and the outbox sweep
hands each waiting message over once (row locks, skipping rows another worker holds)."""

from celery import Task, shared_task
from django.conf import settings
from django.db import OperationalError

from outages.outbox import outbox_sweep
from outages.webhooks import (
    WebhookRetryableError,
    event_notify,
    incident_notify,
    webhook_deliver,
)


@shared_task(
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=3,
    ignore_result=True,
)
def incident_notify_task(incident_id: int) -> int:
    return len(incident_notify(incident_id=incident_id))


@shared_task(
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=3,
    ignore_result=True,
)
def event_notify_task(event_id: int) -> int:
    return len(event_notify(event_id=event_id))


@shared_task(
    bind=True,
    acks_late=True,
    # A receiver that is down or overloaded gets the same body again later: 30 s, 1 min,
    # 2 min, … up to an hour apart (with jitter), WEBHOOK_MAX_RETRIES times.
    autoretry_for=(WebhookRetryableError, OperationalError),
    retry_backoff=30,
    retry_backoff_max=settings.WEBHOOK_RETRY_BACKOFF_MAX,
    retry_jitter=True,
    max_retries=settings.WEBHOOK_MAX_RETRIES,
    ignore_result=True,
)
def webhook_deliver_task(self: Task[[int], str], delivery_id: int) -> str:
    final = self.request.retries >= (self.max_retries or 0)
    return webhook_deliver(delivery_id=delivery_id, final=final)


@shared_task(ignore_result=True)
def outbox_sweep_task() -> int:
    return outbox_sweep()

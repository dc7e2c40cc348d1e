"""Webhook jobs. Each takes ids, calls one service, and is safe to run twice: the notify
claim announces a change once, a delivered delivery is not sent again, and the outbox sweep
hands each waiting message over once (row locks, skipping rows another worker holds)."""

from celery import Task, shared_task
from django.conf import settings
from django.db import OperationalError
from django.utils import timezone

from outages.outbox import outbox_sweep
from outages.services import status_page_poll, status_pages_due
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


@shared_task(ignore_result=True)
def status_pages_due_task() -> int:
    """Hand every due official status page to a poll task of its own (the "status" queue)."""
    due = status_pages_due(now=timezone.now())
    for status_page_id in due:
        status_page_poll_task.delay(status_page_id)
    return len(due)


# A poll waits on another site: its own time limits, below the deadline of the reads
# (STATUS_PAGE_DEADLINE per request, two requests for a Statuspage page). A failure is
# recorded and backed off by the poll itself, so only the database is retried here.
@shared_task(
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=3,
    ignore_result=True,
    soft_time_limit=settings.STATUS_PAGE_DEADLINE * 3,
    time_limit=settings.STATUS_PAGE_DEADLINE * 3 + 10,
    expires=120,
)
def status_page_poll_task(status_page_id: int) -> str:
    return status_page_poll(status_page_id=status_page_id, now=timezone.now())

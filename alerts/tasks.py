"""Alert jobs: each takes an id (or, for a confirmation, the signed token that is all there
is of a sign-up), calls one service and is safe to run twice (a delivered delivery is not
sent again; a confirmation sent twice asks twice, and confirming is idempotent)."""

from celery import Task, shared_task
from django.conf import settings
from django.db import OperationalError

from alerts.sending import AlertRetryableError, alert_deliver
from alerts.services import confirmation_send


@shared_task(
    bind=True,
    acks_late=True,
    # A mail server or push service that is down gets the message again later: 30 s, 1 min,
    # 2 min, … up to an hour apart (with jitter), ALERT_MAX_RETRIES times; past that it is
    # failed, as a message about a change hours old would mislead.
    autoretry_for=(AlertRetryableError, OperationalError),
    retry_backoff=30,
    retry_backoff_max=3600,
    retry_jitter=True,
    max_retries=settings.ALERT_MAX_RETRIES,
    ignore_result=True,
)
def alert_deliver_task(self: Task[[int], str], delivery_id: int) -> str:
    final = self.request.retries >= (self.max_retries or 0)
    return alert_deliver(delivery_id=delivery_id, final=final)


@shared_task(
    acks_late=True,
    # What can succeed later: an unreachable or busy server (confirmation_send returns False
    # for an address the server refuses for good). smtplib's errors are OSErrors.
    autoretry_for=(OSError,),
    retry_backoff=10,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=settings.ALERT_MAX_RETRIES,
    # A confirmation is useless once its link has expired.
    expires=settings.ALERT_CONFIRM_MAX_AGE,
    ignore_result=True,
)
def alert_confirmation_task(token: str) -> bool:
    return confirmation_send(token=token)

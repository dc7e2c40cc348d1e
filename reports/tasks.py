"""Intake jobs. Each calls one service function and is safe to run twice or on two workers at
once."""

from celery import shared_task
from django.db import OperationalError

from reports.abuse import claims_expire


@shared_task(
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=2,
    expires=55,  # the next sweep, a minute later, does the same work
    ignore_result=True,
)
def claims_expire_task() -> int:
    return claims_expire()

"""Minute-by-minute analytics jobs. Each takes no model objects, calls one service function,
and is safe to run twice or on two workers at once (see the service functions)."""

from datetime import datetime
from typing import Any

from celery import shared_task
from celery.signals import worker_ready
from django.db import OperationalError

from analytics.rollup import report_retention_run, rollup_run
from analytics.services import baseline_run, detection_run


@shared_task(
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=3,
    expires=55,  # a rollup queued behind a stuck worker is superseded by the next minute's
    ignore_result=True,
)
def rollup_task() -> int:
    return rollup_run().rows


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=3)
def retention_task() -> int:
    return report_retention_run()


@shared_task(
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=2,
    expires=25,  # the next pass, 30 s later, supersedes one stuck in the queue
    ignore_result=True,
)
def detect_task(now: str | None = None) -> int:
    """Rolls up first, so detection always sees the minute that just ended."""
    at = datetime.fromisoformat(now) if now else None
    rollup_run(now=at)
    return detection_run(now=at).active


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=3)
def baseline_task() -> int:
    return baseline_run()


@worker_ready.connect
def detect_on_worker_start(sender: Any, **kwargs: Any) -> None:
    """A worker that starts, or starts again after an outage, runs a pass at once instead of
    at the clock's next tick: the passes beat queued meanwhile have expired, and until one
    runs the pages say "data delayed" (`make chaos`: 16.8 s from a worker's start to its first
    pass before this). Sent to a queue this worker consumes; a pass twice is harmless."""
    queues = [queue.name for queue in sender.task_consumer.queues]
    detect_task.apply_async(queue=queues[0], expires=25)

"""The outbox of the tasks that announce incidents: a change that must be announced writes an
OutboxMessage in its own transaction; once that commits the message is handed to the broker
and deleted. When the broker is unreachable the message stays, and `outbox_sweep` (every
30 s on beat) hands it over once the broker is back, so no change goes unannounced.

Handing over is at least once: the consumers are idempotent (the notify claim in
outages.webhooks.incident_notify announces a change once; a delivered delivery is not sent
again). A message is taken under a row lock, skipping rows another process holds, so the
commit-time hand-over and two sweeps never hand the same message over at once."""

import logging
import time
from collections.abc import Sequence
from functools import partial
from typing import Any

from django.db import transaction
from django.utils import timezone

from common.logs import warn_every
from outages.models import OutboxMessage, OutboxTask

logger = logging.getLogger(__name__)

# Messages locked and handed over per transaction.
SWEEP_BATCH = 500
# After a hand-over failed, the changes of the next this-many seconds leave their messages to
# the sweep (every 30 s) at once: each would otherwise wait out the broker client's connection
# retries (about 6 s with kombu's defaults), and detection would slow down by that per change.
BROKER_RETRY_AFTER = 30.0
_broker_down_until = 0.0


def _task_for(message: OutboxMessage) -> Any:
    from outages.tasks import event_notify_task, incident_notify_task, webhook_deliver_task
    from outages.webhooks import CHANNELS

    if message.task == OutboxTask.NOTIFY:
        return incident_notify_task
    if message.task == OutboxTask.NOTIFY_EVENT:
        return event_notify_task
    if message.task == OutboxTask.DELIVER:
        return webhook_deliver_task
    channel = CHANNELS.get(message.task)
    return channel.deliver if channel else None


def _send(message: OutboxMessage, task: Any) -> bool:
    try:
        task.delay(message.object_id)
    # Whatever the broker's client raises for a broker it cannot reach (kombu wraps most of
    # it, not all): the message stays in the table either way, for the next sweep.
    except Exception as exc:  # noqa: BLE001
        warn_every(
            logger,
            "outbox",
            "could not enqueue %s %s, kept for the outbox sweep: %s",
            message.task,
            message.object_id,
            exc,
        )
        return False
    return True


def outbox_breaker_reset() -> None:
    global _broker_down_until
    _broker_down_until = 0.0


def _hand_over(ids: Sequence[int] | None) -> tuple[int, bool]:
    """Hand the messages (these ids, or the oldest SWEEP_BATCH) to the broker and delete
    them. Returns (how many were handed over, whether all that were taken were)."""
    global _broker_down_until
    if ids is not None and time.monotonic() < _broker_down_until:
        return 0, False  # the broker failed a moment ago: the sweep will send these
    with transaction.atomic():
        taken = OutboxMessage.objects.select_for_update(skip_locked=True).order_by("id")
        if ids is not None:
            taken = taken.filter(id__in=ids)
        sent: list[int] = []
        complete = True
        for message in taken[:SWEEP_BATCH]:
            task = _task_for(message)
            if task is None:
                # A channel this process does not have (its app is not installed here): the
                # message waits for a process that has it, and does not stop the others.
                warn_every(logger, "outbox-channel", "no channel %r here", message.task)
                continue
            if not _send(message, task):
                complete = False  # the broker is down: the rest would fail the same way
                _broker_down_until = time.monotonic() + BROKER_RETRY_AFTER
                break
            sent.append(message.id)
        OutboxMessage.objects.filter(id__in=sent).delete()
    if sent:
        _broker_down_until = 0.0
    return len(sent), complete


def outbox_add(*, task: str, object_ids: Sequence[int]) -> None:
    """In the caller's transaction: record that `task` must run for each id. They are handed
    to the broker when that transaction commits, and by the sweep if the broker refuses."""
    if not object_ids:
        return
    now = timezone.now()
    messages = OutboxMessage.objects.bulk_create(
        OutboxMessage(task=task, object_id=object_id, created_at=now) for object_id in object_ids
    )
    # robust: a failure here must not fail the change that has just committed (detection);
    # the sweep sends what this did not.
    transaction.on_commit(partial(_hand_over, [m.id for m in messages]), robust=True)


def outbox_sweep() -> int:
    """Hand every waiting message to the broker, oldest first; stops at the first the broker
    refuses. Returns how many were handed over. It tries whatever a failure a moment ago
    said: it runs because beat reached a worker through the broker."""
    total = 0
    while True:
        sent, complete = _hand_over(None)
        total += sent
        if not complete or sent < SWEEP_BATCH:
            return total

"""Every incident change that must be announced is sent, even when the broker was down at the
moment of the change: the change writes its message in its own transaction, and what beat
schedules sweeps the waiting messages to the broker once it is back. Two sweeps at once, or
one run twice, hand each message over once."""

import json
import threading

import pytest
from celery.signals import before_task_publish
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from config.celery import app as celery_app
from outages.models import Incident, Level
from outages.services import incident_resolve
from tests.webhooks import dead_broker, open_incident, subscribe


def run_beat_tasks_of(app_label: str) -> None:
    """What beat would start for the app's tasks, run by a worker (here: in this process)."""
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        name = str(entry["task"])
        if name.startswith(f"{app_label}."):
            celery_app.tasks[name].apply()


def events(receiver) -> list[str]:
    return [json.loads(body)["event"] for _, body in receiver.requests]


@pytest.mark.django_db
def test_a_resolution_while_the_broker_is_down_is_sent_once_it_is_back(
    tiktok, owner, receiver, eager, django_capture_on_commit_callbacks
):
    subscribe(owner, receiver.url, min_level=Level.POSSIBLE)
    with django_capture_on_commit_callbacks(execute=True):
        incident = open_incident(tiktok)
    assert events(receiver) == ["opened"]
    celery_app.conf.task_always_eager = False  # to the broker for real: it is unreachable
    with dead_broker():
        with django_capture_on_commit_callbacks(execute=True):
            open_incident(tiktok, level=Level.POSSIBLE)
        with django_capture_on_commit_callbacks(execute=True):
            incident_resolve(incident_id=incident.id, ended_at=timezone.now())
        # Still down when the next sweep comes: the messages keep waiting.
        with django_capture_on_commit_callbacks(execute=True):
            run_beat_tasks_of("outages")
    assert events(receiver) == ["opened"]
    assert Incident.objects.get(id=incident.id).notified_level == Level.OUTAGE
    celery_app.conf.task_always_eager = True  # the broker and the worker are back
    for _ in range(2):  # a second sweep, a second worker's: nothing more
        with django_capture_on_commit_callbacks(execute=True):
            run_beat_tasks_of("outages")
    # The two changes made while it was down are announced together as the latest state.
    assert events(receiver) == ["opened", "resolved"]
    assert json.loads(receiver.requests[-1][1])["outage"]["ended_at"] is not None


@pytest.mark.django_db
def test_the_message_commits_with_the_change_or_not_at_all(tiktok, owner):
    from outages.models import OutboxMessage

    subscribe(owner, "https://example.com/hook")
    with pytest.raises(RuntimeError), transaction.atomic():
        open_incident(tiktok)
        raise RuntimeError("detection failed mid-pass")
    assert not OutboxMessage.objects.exists()
    incident = open_incident(tiktok)  # written; its hand-over after commit has not run
    (message,) = OutboxMessage.objects.all()
    assert (message.task, message.object_id) == ("notify", incident.id)


@pytest.fixture
def published():
    """The task messages that reach the (real, Redis) broker, as (task name, argument)."""
    seen: list[tuple[str, int]] = []
    lock = threading.Lock()

    def record(sender=None, body=None, **kwargs):
        with lock:
            seen.append((str(sender), int(body[0][0])))

    before_task_publish.connect(record, weak=False)
    yield seen
    before_task_publish.disconnect(record)


def waiting_messages(count: int) -> list[int]:
    from outages.models import OutboxMessage

    now = timezone.now()
    created = OutboxMessage.objects.bulk_create(
        OutboxMessage(task="deliver", object_id=10_000 + i, created_at=now) for i in range(count)
    )
    return [m.object_id for m in created]


@pytest.mark.django_db(transaction=True)
def test_a_sweep_skips_the_messages_another_worker_holds(published):
    if connection.vendor != "postgresql":
        pytest.skip("row locks")
    from outages.models import OutboxMessage
    from outages.outbox import outbox_sweep

    first, *rest = waiting_messages(3)
    held, release = threading.Event(), threading.Event()

    def other_worker() -> None:
        with transaction.atomic():
            list(OutboxMessage.objects.select_for_update().filter(object_id=first))
            held.set()
            release.wait(30)
        connection.close()

    thread = threading.Thread(target=other_worker)
    thread.start()
    try:
        assert held.wait(30)
        assert outbox_sweep() == 2  # did not wait for the held row
        assert [arg for _, arg in published] == rest
    finally:
        release.set()
        thread.join()
    assert outbox_sweep() == 1
    assert outbox_sweep() == 0
    assert sorted(arg for _, arg in published) == sorted([first, *rest])
    assert {name for name, _ in published} == {"outages.tasks.webhook_deliver_task"}
    assert not OutboxMessage.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_hand_each_message_over_once(published, monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("row locks")
    from outages import outbox

    monkeypatch.setattr(outbox, "SWEEP_BATCH", 7)  # many small batches, interleaving
    ids = waiting_messages(60)
    start = threading.Barrier(2)
    counts: list[int] = []

    def worker() -> None:
        start.wait()
        counts.append(outbox.outbox_sweep())
        connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(counts) == 60
    assert sorted(arg for _, arg in published) == ids

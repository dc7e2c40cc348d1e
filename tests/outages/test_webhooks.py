"""Webhook delivery: signed events on open, change and resolve, one claim per change, retries
with backoff, private targets refused, and detection never blocked by the broker."""

import json
import socket
import time
from typing import Any

import pytest
from django.utils import timezone

from outages.models import DeliveryStatus, Incident, Level, OutboxMessage, WebhookDelivery
from outages.services import (
    incident_resolve,
    incident_set_breakdown,
)
from outages.tasks import webhook_deliver_task
from outages.webhooks import incident_notify, webhook_deliver
from tests.webhooks import dead_broker, open_incident, subscribe, verify

pytestmark = pytest.mark.django_db


def test_opening_changing_and_resolving_post_signed_events(
    tiktok, owner, receiver, eager, django_capture_on_commit_callbacks
):
    subscription = subscribe(owner, receiver.url, min_level=Level.POSSIBLE)
    with django_capture_on_commit_callbacks(execute=True):
        incident = open_incident(tiktok)
    with django_capture_on_commit_callbacks(execute=True):
        open_incident(tiktok, level=Level.POSSIBLE)
    with django_capture_on_commit_callbacks(execute=True):
        incident_resolve(incident_id=incident.id, ended_at=timezone.now())
    events = [json.loads(body) for _, body in receiver.requests]
    assert [e["event"] for e in events] == ["opened", "level_changed", "resolved"]
    assert events[1]["previous_level"] == "outage" and events[1]["outage"]["level"] == "possible"
    assert events[2]["outage"]["ended_at"].endswith("Z")
    for headers, body in receiver.requests:
        assert headers["Content-Type"] == "application/json"
        assert verify(subscription.secret, headers, body)
        assert abs(int(headers["X-Outage-Radar-Timestamp"]) - time.time()) < 60
    assert not verify("another-secret", *receiver.requests[0])
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"delivered"}


def test_an_event_is_claimed_once(
    tiktok, owner, receiver, eager, django_capture_on_commit_callbacks
):
    subscribe(owner, receiver.url)
    incident = open_incident(tiktok)  # on_commit callbacks not run: nothing announced yet
    with django_capture_on_commit_callbacks(execute=True):
        first = incident_notify(incident_id=incident.id)
    # A second worker, a redelivered task, or the next detection pass's breakdown update.
    with django_capture_on_commit_callbacks(execute=True):
        second = incident_notify(incident_id=incident.id)
        incident_set_breakdown(incident_id=incident.id, regions=[], problems=[])
    assert len(first) == 1 and second == []
    assert len(receiver.requests) == 1


def test_subscriptions_filter_by_service_country_and_level(tiktok, gmail, owner):
    everything = subscribe(owner, "https://example.com/a", min_level=Level.POSSIBLE)
    gmail_only = subscribe(owner, "https://example.com/b", services=[gmail])
    brazil = subscribe(owner, "https://example.com/c", countries=["BR"])
    outage_level = subscribe(owner, "https://example.com/d")
    possible = open_incident(tiktok, country="US", level=Level.POSSIBLE)
    incident_notify(incident_id=possible.id)
    assert set(WebhookDelivery.objects.values_list("subscription", flat=True)) == {everything.id}
    WebhookDelivery.objects.all().delete()
    worldwide = open_incident(tiktok)
    incident_set_breakdown(
        incident_id=worldwide.id,
        regions=[{"country": "BR", "subdivision": "", "reports": 9, "expected": 1, "excess": 8}],
        problems=[],
    )
    incident_notify(incident_id=worldwide.id)
    got = set(WebhookDelivery.objects.values_list("subscription", flat=True))
    assert got == {everything.id, brazil.id, outage_level.id}
    assert gmail_only.id not in got


def test_a_failing_receiver_is_retried_with_the_same_body(
    tiktok, owner, receiver, eager, django_capture_on_commit_callbacks
):
    receiver.statuses = [500, 503]
    subscribe(owner, receiver.url)
    with django_capture_on_commit_callbacks(execute=True):
        open_incident(tiktok)
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.DELIVERED and delivery.attempts == 3
    assert [a.status_code for a in delivery.tries.all()] == [500, 503, 200]
    bodies = {body for _, body in receiver.requests}
    assert (
        len(bodies) == 1 and len({h["X-Outage-Radar-Delivery"] for h, _ in receiver.requests}) == 1
    )


def test_a_receiver_that_is_down_fails_after_the_retries(
    tiktok, owner, settings, eager, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    subscribe(owner, f"http://127.0.0.1:{closed_port}/hook")
    with django_capture_on_commit_callbacks(execute=True):
        open_incident(tiktok)
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.FAILED
    task: Any = webhook_deliver_task
    assert delivery.attempts == task.max_retries + 1
    assert all("ConnectionRefused" in a.error for a in delivery.tries.all())


def test_retry_policy_is_exponential_backoff():
    task: Any = webhook_deliver_task  # Celery's task options are set dynamically
    assert task.autoretry_for
    assert task.retry_backoff == 30 and task.retry_jitter
    assert task.max_retries >= 3


def test_a_4xx_is_not_retried(tiktok, owner, receiver):
    receiver.statuses = [410]
    subscribe(owner, receiver.url)
    incident_notify(incident_id=open_incident(tiktok).id)
    delivery = WebhookDelivery.objects.get()
    assert webhook_deliver(delivery_id=delivery.id) == DeliveryStatus.FAILED
    assert webhook_deliver(delivery_id=delivery.id) == DeliveryStatus.FAILED  # not sent again
    assert len(receiver.requests) == 1


def test_private_targets_are_refused_in_production(tiktok, owner, receiver, settings):
    subscribe(owner, receiver.url)
    incident_notify(incident_id=open_incident(tiktok).id)
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    delivery = WebhookDelivery.objects.get()
    assert webhook_deliver(delivery_id=delivery.id) == DeliveryStatus.FAILED
    assert receiver.requests == [] and "non-public" in delivery.tries.get().error


def test_a_broker_outage_never_blocks_detection(
    tiktok, owner, caplog, django_capture_on_commit_callbacks
):
    subscribe(owner, "https://example.com/hook")
    with dead_broker():
        started = time.monotonic()
        with django_capture_on_commit_callbacks(execute=True):
            incident = open_incident(tiktok)
        assert time.monotonic() - started < 10
    assert Incident.objects.get(id=incident.id).notified_level == ""
    # Kept for the outbox sweep (tests/outages/test_outbox.py).
    assert OutboxMessage.objects.filter(object_id=incident.id).exists()
    assert "could not enqueue" in caplog.text

import hashlib
import hmac
import json
import socket
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from config.celery import app as celery_app
from outages.models import DeliveryStatus, Incident, Level, Subscription, WebhookDelivery
from outages.services import (
    incident_observe,
    incident_resolve,
    incident_set_breakdown,
    subscription_create,
)
from outages.tasks import webhook_deliver_task
from outages.webhooks import incident_notify, webhook_deliver

pytestmark = pytest.mark.django_db


class Receiver:
    """A webhook receiver on 127.0.0.1 answering with the queued status codes (then 200)."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.statuses: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((dict(self.headers), body))
                self.send_response(receiver.statuses.pop(0) if receiver.statuses else 200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(settings) -> Iterator[Receiver]:
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def eager() -> Iterator[None]:
    # Tasks run in-process; retries run at once (Celery ignores countdowns when eager).
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = False


@pytest.fixture
def owner(db) -> User:
    return User.objects.create_user("bot", password="unused-password-123")


def _subscribe(owner, url, **kwargs):
    fields = {"services": [], "countries": [], "min_level": Level.OUTAGE} | kwargs
    return subscription_create(owner=owner, url=url, **fields)


def _open(service, country="", level=Level.OUTAGE):
    now = timezone.now()
    incident, _ = incident_observe(
        service_id=service.id,
        country=country,
        level=level,
        at=now,
        started_at=now - timedelta(minutes=3),
        reports=40,
        expected=2,
    )
    return incident


def _verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    # What a receiver does: the README shows the same few lines.
    signed = headers["X-Outage-Radar-Timestamp"].encode() + b"." + body
    expected = "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, headers["X-Outage-Radar-Signature"])


def test_opening_changing_and_resolving_post_signed_events(
    tiktok, owner, receiver, eager, django_capture_on_commit_callbacks
):
    subscription = _subscribe(owner, receiver.url, min_level=Level.POSSIBLE)
    with django_capture_on_commit_callbacks(execute=True):
        incident = _open(tiktok)
    with django_capture_on_commit_callbacks(execute=True):
        _open(tiktok, level=Level.POSSIBLE)
    with django_capture_on_commit_callbacks(execute=True):
        incident_resolve(incident_id=incident.id, ended_at=timezone.now())
    events = [json.loads(body) for _, body in receiver.requests]
    assert [e["event"] for e in events] == ["opened", "level_changed", "resolved"]
    assert events[1]["previous_level"] == "outage" and events[1]["outage"]["level"] == "possible"
    assert events[2]["outage"]["ended_at"].endswith("Z")
    for headers, body in receiver.requests:
        assert headers["Content-Type"] == "application/json"
        assert _verify(subscription.secret, headers, body)
        assert abs(int(headers["X-Outage-Radar-Timestamp"]) - time.time()) < 60
    assert not _verify("another-secret", *receiver.requests[0])
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"delivered"}


def test_an_event_is_claimed_once(
    tiktok, owner, receiver, eager, django_capture_on_commit_callbacks
):
    _subscribe(owner, receiver.url)
    incident = _open(tiktok)  # on_commit callbacks not run: nothing announced yet
    with django_capture_on_commit_callbacks(execute=True):
        first = incident_notify(incident_id=incident.id)
    # A second worker, a redelivered task, or the next detection pass's breakdown update.
    with django_capture_on_commit_callbacks(execute=True):
        second = incident_notify(incident_id=incident.id)
        incident_set_breakdown(incident_id=incident.id, regions=[], problems=[])
    assert len(first) == 1 and second == []
    assert len(receiver.requests) == 1


def test_subscriptions_filter_by_service_country_and_level(tiktok, gmail, owner):
    everything = _subscribe(owner, "https://example.com/a", min_level=Level.POSSIBLE)
    gmail_only = _subscribe(owner, "https://example.com/b", services=[gmail])
    brazil = _subscribe(owner, "https://example.com/c", countries=["BR"])
    outage_level = _subscribe(owner, "https://example.com/d")
    possible = _open(tiktok, country="US", level=Level.POSSIBLE)
    incident_notify(incident_id=possible.id)
    assert set(WebhookDelivery.objects.values_list("subscription", flat=True)) == {everything.id}
    WebhookDelivery.objects.all().delete()
    worldwide = _open(tiktok)
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
    _subscribe(owner, receiver.url)
    with django_capture_on_commit_callbacks(execute=True):
        _open(tiktok)
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
    _subscribe(owner, f"http://127.0.0.1:{closed_port}/hook")
    with django_capture_on_commit_callbacks(execute=True):
        _open(tiktok)
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
    _subscribe(owner, receiver.url)
    incident_notify(incident_id=_open(tiktok).id)
    delivery = WebhookDelivery.objects.get()
    assert webhook_deliver(delivery_id=delivery.id) == DeliveryStatus.FAILED
    assert webhook_deliver(delivery_id=delivery.id) == DeliveryStatus.FAILED  # not sent again
    assert len(receiver.requests) == 1


def test_private_targets_are_refused_in_production(tiktok, owner, receiver, settings):
    _subscribe(owner, receiver.url)
    incident_notify(incident_id=_open(tiktok).id)
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    delivery = WebhookDelivery.objects.get()
    assert webhook_deliver(delivery_id=delivery.id) == DeliveryStatus.FAILED
    assert receiver.requests == [] and "non-public" in delivery.tries.get().error


def test_a_broker_outage_never_blocks_detection(
    tiktok, owner, caplog, django_capture_on_commit_callbacks
):
    _subscribe(owner, "https://example.com/hook")
    app: Any = celery_app  # reaches into the app's private connection pools
    saved = {
        k: app.conf[k] for k in ("broker_url", "broker_connection_retry", "task_publish_retry")
    }
    # The app caches its connection pools; set them aside (not closed: later tests use them)
    # so this test's publishes go to the dead broker.
    pools = app._pool, app.amqp._producer_pool
    app._pool = app.amqp._producer_pool = None
    app.conf.broker_url = "redis://127.0.0.1:1/0"
    app.conf.broker_connection_retry = False
    app.conf.task_publish_retry = False
    try:
        started = time.monotonic()
        with django_capture_on_commit_callbacks(execute=True):
            incident = _open(tiktok)
        assert time.monotonic() - started < 10
    finally:
        app.conf.update(saved)
        app._pool, app.amqp._producer_pool = pools
    assert Incident.objects.get(id=incident.id).notified_level == ""  # retried on the next pass
    assert "could not enqueue" in caplog.text


# ---------------------------------------------------------------------------- the API


@pytest.fixture
def bot_api(owner) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=owner).key}")
    return client


def test_subscriptions_need_a_token(api, db):
    r = api.get("/api/v1/subscriptions")
    assert r.status_code == 401 and r["WWW-Authenticate"] == "Token"
    assert api.post("/api/v1/subscriptions", {}, format="json").status_code == 401


def test_subscription_lifecycle(bot_api, tiktok, token_api):
    r = bot_api.post(
        "/api/v1/subscriptions",
        {"url": "https://example.com/hook", "services": ["TikTok"], "countries": ["br"]},
        format="json",
    )
    assert r.status_code == 201, r.content
    created = r.json()
    assert len(created["secret"]) == 64 and created["services"] == ["tiktok"]
    assert created["countries"] == ["BR"] and created["min_level"] == "outage"
    sid = created["id"]
    assert "secret" not in bot_api.get(f"/api/v1/subscriptions/{sid}").json()
    assert [s["id"] for s in bot_api.get("/api/v1/subscriptions").json()["subscriptions"]] == [sid]
    assert bot_api.get(f"/api/v1/subscriptions/{sid}")["Cache-Control"] == "private, no-store"
    # Someone else's token sees nothing.
    assert token_api.get(f"/api/v1/subscriptions/{sid}").status_code == 404
    patched = bot_api.patch(
        f"/api/v1/subscriptions/{sid}",
        {"min_level": "possible", "rotate_secret": True},
        format="json",
    ).json()
    assert patched["min_level"] == "possible" and patched["secret"] != created["secret"]
    assert patched["countries"] == ["BR"]
    assert bot_api.get(f"/api/v1/subscriptions/{sid}/deliveries").json() == {"deliveries": []}
    assert bot_api.delete(f"/api/v1/subscriptions/{sid}").status_code == 204
    assert not Subscription.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "ftp://example.com/x"}, "url"),
        ({"url": "http://127.0.0.1:8000/x"}, "url"),
        ({"url": "http://localhost/x"}, "url"),
        ({"url": "https://example.com", "services": ["nope"]}, "services"),
        ({"url": "https://example.com", "countries": ["XX"]}, "countries"),
        ({"url": "https://example.com", "min_level": "ok"}, "min_level"),
    ],
)
def test_bad_subscriptions_name_the_field(bot_api, tiktok, body, field):
    r = bot_api.post("/api/v1/subscriptions", body, format="json")
    assert r.status_code == 400 and field in r.json()["fields"]


def test_deliveries_show_every_attempt(bot_api, owner, tiktok, receiver):
    receiver.statuses = [500]
    subscription = _subscribe(owner, receiver.url)
    incident_notify(incident_id=_open(tiktok).id)
    delivery = WebhookDelivery.objects.get()
    with pytest.raises(Exception, match="HTTP 500"):
        webhook_deliver(delivery_id=delivery.id)
    webhook_deliver(delivery_id=delivery.id)
    body = bot_api.get(f"/api/v1/subscriptions/{subscription.id}/deliveries").json()
    [row] = body["deliveries"]
    assert row["status"] == "delivered" and [t["status_code"] for t in row["tries"]] == [500, 200]

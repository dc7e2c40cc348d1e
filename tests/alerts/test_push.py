"""Browser push through a local push service: the subscription from the page's API call,
VAPID-signed encrypted messages on open and resolve (decrypted here as a browser would),
expired subscriptions removed on 404 and 410, retries on 5xx, and 4xx naming the field."""

import pytest
from django.utils import timezone

from alerts.models import Alert, AlertDelivery, Channel
from outages.models import DeliveryStatus, Level
from outages.services import incident_resolve
from tests.webhooks import open_incident

pytestmark = pytest.mark.django_db

URL = "/api/v1/alerts/push"


def subscribe(api, push_service, name="device-1", **fields):
    body = {"service": "tiktok", "country": "", "events": ["opened", "resolved"]}
    body |= {"subscription": push_service.subscription(name)} | fields
    return api.post(URL, body, format="json")


def test_a_subscribed_browser_gets_signed_encrypted_pushes_on_open_and_resolve(
    tiktok, push_service, eager, api, django_capture_on_commit_callbacks
):
    response = subscribe(api, push_service, country="br")
    assert response.status_code == 201, response.content
    assert response.json() == {
        "service": "tiktok",
        "country": "BR",
        "events": ["opened", "resolved"],
    }
    # The same subscription again: one alert, updated.
    assert subscribe(api, push_service, country="BR", events=["resolved"]).status_code == 201
    alert = Alert.objects.get()
    assert (alert.channel, alert.on_open, alert.on_resolve) == (Channel.PUSH, False, True)
    assert subscribe(api, push_service, country="BR").status_code == 201
    with django_capture_on_commit_callbacks(execute=True):
        incident = open_incident(tiktok, country="BR")
    with django_capture_on_commit_callbacks(execute=True):
        open_incident(tiktok, country="BR", level=Level.POSSIBLE)  # no news for alerts
    with django_capture_on_commit_callbacks(execute=True):
        incident_resolve(incident_id=incident.id, ended_at=timezone.now())
    assert [r["vapid_problem"] for r in push_service.received] == [None, None]
    opened, resolved = (r["payload"] for r in push_service.received)
    assert opened["title"] == "TikTok: problems reported (Brazil)"
    assert resolved["title"] == "TikTok is back to normal (Brazil)"
    assert opened["url"] == "http://localhost:8000/tiktok/"
    assert opened["tag"] == resolved["tag"] == f"incident-{incident.id}"
    headers = push_service.received[0]["headers"]
    assert headers["content-encoding"] == "aes128gcm"
    assert headers["ttl"] == "3600" and headers["urgency"] == "high"
    assert [(d.event, d.status, d.status_code) for d in AlertDelivery.objects.order_by("id")] == [
        ("opened", DeliveryStatus.DELIVERED, 201),
        ("resolved", DeliveryStatus.DELIVERED, 201),
    ]


@pytest.mark.parametrize("gone", [404, 410])
def test_an_expired_subscription_is_removed(
    tiktok, push_service, eager, api, django_capture_on_commit_callbacks, gone
):
    assert subscribe(api, push_service, name="old").status_code == 201
    assert subscribe(api, push_service, name="new").status_code == 201
    push_service.statuses = [gone]  # the first push, to the older subscription
    with django_capture_on_commit_callbacks(execute=True):
        open_incident(tiktok)
    assert [r["path"] for r in push_service.received] == ["/push/old", "/push/new"]
    assert list(Alert.objects.values_list("endpoint", flat=True)) == [
        f"{push_service.origin}/push/new"
    ]
    failed = AlertDelivery.objects.get(status=DeliveryStatus.FAILED)
    assert (failed.alert, failed.status_code, failed.attempts) == (None, gone, 1)


def test_a_failing_push_service_is_tried_again(
    tiktok, push_service, eager, api, django_capture_on_commit_callbacks
):
    assert subscribe(api, push_service).status_code == 201
    push_service.statuses = [503, 429]
    with django_capture_on_commit_callbacks(execute=True):
        open_incident(tiktok)
    assert [r["status"] for r in push_service.received] == [503, 429, 201]
    delivery = AlertDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.DELIVERED, 3)
    assert Alert.objects.count() == 1


def test_unsubscribing_removes_the_alert(tiktok, push_service, api):
    assert subscribe(api, push_service).status_code == 201
    body = {"service": "tiktok", "country": "", "endpoint": push_service.subscription()["endpoint"]}
    assert api.post(f"{URL}/unsubscribe", body, format="json").status_code == 204
    assert Alert.objects.count() == 0
    assert api.post(f"{URL}/unsubscribe", body, format="json").status_code == 204


def _keys(**keys):
    return lambda s: {**s, "keys": {**s["keys"], **keys}}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda s: {**s, "endpoint": "not a url"}, "subscription.endpoint"),
        (lambda s: {**s, "endpoint": "ftp://push.example/x"}, "subscription.endpoint"),
        (_keys(p256dh="AAAA"), "subscription.keys.p256dh"),
        (_keys(auth="A" * 40), "subscription.keys.auth"),
        (lambda s: {k: v for k, v in s.items() if k != "keys"}, "subscription.keys"),
        (lambda s: {**s, "extra": 1}, "subscription.extra"),
    ],
)
def test_a_bad_subscription_is_a_400_naming_the_field(tiktok, push_service, api, change, field):
    response = subscribe(api, push_service, subscription=change(push_service.subscription()))
    assert response.status_code == 400, response.content
    assert list(response.json()["fields"]) == [field]
    assert Alert.objects.count() == 0


@pytest.mark.parametrize(
    ("fields", "field", "status"),
    [
        ({"country": "XX"}, "country", 400),
        ({"events": []}, "events", 400),
        ({"events": ["sometimes"]}, "events.0", 400),
        ({"service": "no-such-service"}, None, 404),
    ],
)
def test_bad_choices_are_a_4xx_naming_the_field(tiktok, push_service, api, fields, field, status):
    response = subscribe(api, push_service, **fields)
    assert response.status_code == status, response.content
    if field:
        assert list(response.json()["fields"]) == [field]
    assert Alert.objects.count() == 0


def test_a_private_endpoint_is_refused_in_production(tiktok, push_service, api, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    response = subscribe(api, push_service)
    assert response.status_code == 400
    assert response.json()["fields"] == {"subscription.endpoint": ["Must be a public address."]}


def test_the_alert_page_offers_push_only_with_a_vapid_key(tiktok, client, settings):
    settings.VAPID_PRIVATE_KEY = ""
    assert b'data-vapid-key=""' in client.get("/tiktok/alerts/").content
    from tests.push import vapid_private_key

    settings.VAPID_PRIVATE_KEY = vapid_private_key()
    page = client.get("/tiktok/alerts/").content.decode()
    assert 'data-vapid-key="B' in page  # an uncompressed P-256 point, base64url: 0x04…


def test_vapid_key_makes_a_key_the_site_pushes_with(settings):
    from io import StringIO

    from django.core.management import call_command

    from alerts.push import application_server_key

    out = StringIO()
    call_command("vapid_key", stdout=out)
    settings.VAPID_PRIVATE_KEY = out.getvalue().strip()
    assert len(settings.VAPID_PRIVATE_KEY) == 43  # 32 bytes, base64url
    assert len(application_server_key()) == 87  # 65 bytes: 0x04, x, y


def test_a_change_while_the_broker_is_down_is_pushed_once_it_is_back(
    tiktok, push_service, eager, api, django_capture_on_commit_callbacks
):
    from config.celery import app as celery_app
    from outages.models import OutboxMessage
    from tests.outages.test_outbox import run_beat_tasks_of
    from tests.webhooks import dead_broker

    assert subscribe(api, push_service).status_code == 201
    celery_app.conf.task_always_eager = False  # to the broker for real: it is unreachable
    with dead_broker():
        with django_capture_on_commit_callbacks(execute=True):
            open_incident(tiktok)
        with django_capture_on_commit_callbacks(execute=True):
            run_beat_tasks_of("outages")
    assert push_service.received == []
    assert list(OutboxMessage.objects.values_list("task", flat=True)) == ["notify"]
    celery_app.conf.task_always_eager = True  # the broker and the worker are back
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            run_beat_tasks_of("outages")
    assert [r["payload"]["title"] for r in push_service.received] == [
        "TikTok: problems reported (worldwide)"
    ]
    assert OutboxMessage.objects.count() == 0


def test_a_push_alert_speaks_the_language_of_the_page_it_came_from(
    tiktok, push_service, eager, api, client, django_capture_on_commit_callbacks
):
    page = client.get("/ja/tiktok/alerts/").content.decode()
    assert "/api/v1/alerts/push?lang=ja" in page
    body = {"service": "tiktok", "country": "BR", "events": ["opened", "resolved"]}
    body["subscription"] = push_service.subscription("device-ja")
    assert api.post(URL + "?lang=ja", body, format="json").status_code == 201
    assert Alert.objects.get().language == "ja"
    with django_capture_on_commit_callbacks(execute=True):
        open_incident(tiktok, country="BR")
    (received,) = push_service.received
    assert received["payload"]["title"] == "TikTok: 問題が報告されています（ブラジル）"
    bad = api.post(URL + "?lang=xx", body, format="json")
    assert bad.status_code == 400 and "lang" in bad.json()["fields"]

"""E-mail alerts through a real SMTP server: double opt-in with nothing stored before the
link is confirmed, one message per incident change, a one-click unsubscribe in every
message (RFC 8058), limits on sign-ups, retries, and 4xx naming the field."""

import re

import pytest
import redis
from django.conf import settings
from django.test import Client
from django.utils import timezone

from alerts.models import Alert, AlertDelivery
from alerts.tokens import SignUp, confirm_token
from outages.models import DeliveryStatus, Level, OutboxMessage
from outages.services import incident_resolve, incident_set_breakdown
from tests.alerts.helpers import link_in, sign_up, unsubscribe_path
from tests.mail import body_of
from tests.webhooks import open_incident

pytestmark = pytest.mark.django_db


def confirmed(client, service, mail_server, **fields) -> Alert:
    assert sign_up(client, service, **fields).status_code == 302
    message = mail_server.messages[-1]
    assert client.post(link_in(message)).status_code == 200
    return Alert.objects.get(email=fields.get("email", "ana@example.com"), service=service)


def test_nothing_is_stored_until_the_address_confirms(tiktok, mail_server, eager, client):
    response = sign_up(client, tiktok, country="BR", events=["resolved"])
    assert response.status_code == 302 and response["Location"] == "/tiktok/alerts/sent/"
    assert Alert.objects.count() == 0 and OutboxMessage.objects.count() == 0
    # Not even in the cache: the limits' keys hold a keyed hash of the address.
    store = redis.Redis.from_url(settings.REDIS_URL)
    keys = store.keys("*")
    assert len(keys) == 2  # the limits of this client address and of that e-mail address
    assert not [k for k in keys if b"ana" in k or b"example" in k]
    assert not [k for k in keys if b"example" in (store.get(k) or b"")]
    [message] = mail_server.messages
    assert mail_server.envelopes[0][1] == ["ana@example.com"]
    assert message["Subject"] == "Confirm your TikTok alerts"
    assert "Brazil" in body_of(message)
    link = link_in(message)
    # Opening the link (a mail scanner does) asks; it does not confirm.
    page = client.get(link)
    assert page.status_code == 200 and b"ana@example.com" in page.content
    assert Alert.objects.count() == 0
    assert client.post(link).status_code == 200
    alert = Alert.objects.get()
    assert (alert.email, alert.country, alert.on_open, alert.on_resolve) == (
        "ana@example.com",
        "BR",
        False,
        True,
    )
    # The same link again, or a second sign-up for the same place: still one alert.
    assert client.post(link).status_code == 200
    confirmed(client, tiktok, mail_server, country="BR")
    alert = Alert.objects.get()
    assert (alert.on_open, alert.on_resolve) == (True, True)


def test_an_incident_mails_once_per_change_with_a_one_click_unsubscribe(
    tiktok, mail_server, eager, client, django_capture_on_commit_callbacks
):
    alert = confirmed(client, tiktok, mail_server)
    assert len(mail_server.messages) == 1  # the confirmation
    with django_capture_on_commit_callbacks(execute=True):
        incident = open_incident(tiktok)
    # The next detection passes: the same state again, its breakdown, a change of level.
    with django_capture_on_commit_callbacks(execute=True):
        open_incident(tiktok)
        incident_set_breakdown(incident_id=incident.id, regions=[], problems=[])
    with django_capture_on_commit_callbacks(execute=True):
        open_incident(tiktok, level=Level.POSSIBLE)
    with django_capture_on_commit_callbacks(execute=True):
        incident_resolve(incident_id=incident.id, ended_at=timezone.now())
    opened, resolved = mail_server.messages[1:]
    assert opened["Subject"] == "TikTok: problems reported (worldwide)"
    assert resolved["Subject"] == "TikTok is back to normal (worldwide)"
    assert "http://testserver/tiktok/" in body_of(opened)
    for message in (opened, resolved):
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert unsubscribe_path(message) in body_of(message)
    log = AlertDelivery.objects.order_by("id")
    assert [(d.event, d.status, d.attempts) for d in log] == [
        ("opened", DeliveryStatus.DELIVERED, 1),
        ("resolved", DeliveryStatus.DELIVERED, 1),
    ]
    # RFC 8058: the mail provider POSTs this body from its own servers, with no CSRF token.
    provider = Client(enforce_csrf_checks=True)
    response = provider.post(
        unsubscribe_path(opened),
        "List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    assert not Alert.objects.filter(id=alert.id).exists()
    # The log stays, without the address.
    assert AlertDelivery.objects.filter(alert=None).count() == 2
    with django_capture_on_commit_callbacks(execute=True):
        open_incident(tiktok)
    assert len(mail_server.messages) == 3


def test_a_country_alert_hears_of_its_country_and_of_worldwide_incidents(
    tiktok, mail_server, eager, client, django_capture_on_commit_callbacks
):
    brazil = confirmed(client, tiktok, mail_server, email="br@example.com", country="BR")
    world = confirmed(client, tiktok, mail_server, email="all@example.com", country="")
    for country in ("US", "BR", ""):
        with django_capture_on_commit_callbacks(execute=True):
            open_incident(tiktok, country=country)
    got = {
        (d.alert_id, d.incident.country) for d in AlertDelivery.objects.select_related("incident")
    }
    assert got == {(brazil.id, "BR"), (brazil.id, ""), (world.id, "")}
    subjects = sorted(str(m["Subject"]) for m in mail_server.messages[2:])
    assert subjects == [
        "TikTok: problems reported (Brazil)",
        "TikTok: problems reported (worldwide)",
        "TikTok: problems reported (worldwide)",
    ]


def test_sign_ups_are_limited_per_address_and_per_client_address(
    tiktok, gmail, mail_server, eager, client, settings
):
    settings.ALERT_SIGNUPS_PER_EMAIL = 2
    settings.ALERT_SIGNUPS_PER_IP = 4
    assert [sign_up(client, s).status_code for s in (tiktok, gmail, tiktok)] == [302, 302, 429]
    over = sign_up(client, gmail)
    assert over.status_code == 429 and "email" in over.context["form"].errors
    assert int(over["Retry-After"]) > 0
    # Another address from the same client: the client's own limit (4) is reached next.
    assert sign_up(client, tiktok, email="bo@example.com").status_code == 429
    response = sign_up(client, tiktok, email="cy@example.com")
    assert response.status_code == 429 and b"Too many sign-ups from here" in response.content
    # Another client is not held back by this one.
    other = Client(REMOTE_ADDR="192.0.2.7")
    assert sign_up(other, tiktok, email="cy@example.com").status_code == 302
    assert len(mail_server.messages) == 3


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"email": "not-an-address"}, "email"),
        ({"email": ""}, "email"),
        ({"email": "a" * 250 + "@example.com"}, "email"),
        ({"country": "XX"}, "country"),
        ({"events": []}, "events"),
        ({"events": ["sometimes"]}, "events"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(tiktok, mail_server, client, fields, field):
    response = sign_up(client, tiktok, **fields)
    assert response.status_code == 400
    assert list(response.context["form"].errors) == [field]
    assert mail_server.messages == [] and Alert.objects.count() == 0


def test_a_forged_expired_or_unknown_link_is_a_400(tiktok, client, settings):
    signup = SignUp("ana@example.com", tiktok.id, "", True, True, "en")
    good = confirm_token(signup)
    forged = good[:-3] + ("aaa" if not good.endswith("aaa") else "bbb")
    assert client.get(f"/alerts/confirm/{forged}/").status_code == 400
    assert client.post(f"/alerts/unsubscribe/{forged}/").status_code == 400
    settings.ALERT_CONFIRM_MAX_AGE = -1
    response = client.post(f"/alerts/confirm/{good}/")
    assert response.status_code == 400 and b"token" in response.content
    assert Alert.objects.count() == 0
    assert client.get("/nope/alerts/").status_code == 404


def test_a_busy_mail_server_is_tried_again_and_a_refusal_is_final(
    tiktok, gmail, mail_server, eager, client, django_capture_on_commit_callbacks
):
    confirmed(client, tiktok, mail_server)
    confirmed(client, gmail, mail_server)
    mail_server.replies = ["451 4.3.0 Try again later"]
    with django_capture_on_commit_callbacks(execute=True):
        open_incident(tiktok)
    delivery = AlertDelivery.objects.get(incident__service=tiktok)
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.DELIVERED, 2)
    mail_server.replies = ["554 5.7.1 Rejected"]
    with django_capture_on_commit_callbacks(execute=True):
        open_incident(gmail)
    delivery = AlertDelivery.objects.get(incident__service=gmail)
    assert (delivery.status, delivery.attempts, delivery.status_code) == (
        DeliveryStatus.FAILED,
        1,
        554,
    )
    assert len(mail_server.messages) == 3  # two confirmations and TikTok's alert


def test_a_sign_up_from_a_translated_page_is_confirmed_and_alerted_in_its_language(
    tiktok, mail_server, eager, client
):
    response = client.post(
        "/de/tiktok/alerts/",
        {"email": "anna@example.com", "country": "DE", "events": ["opened", "resolved"]},
    )
    assert response.status_code == 302 and response["Location"] == "/de/tiktok/alerts/sent/"
    message = mail_server.messages[-1]
    assert str(message["Subject"]) == "Bestätigen Sie Ihre Benachrichtigungen zu TikTok"
    body = body_of(message)
    assert "Jemand, wahrscheinlich Sie, hat" in body
    link = re.search(r"http://testserver(/de/alerts/confirm/[^/\s]+/)", body)
    assert link, body
    page = client.get(link.group(1)).content.decode()
    assert '<html lang="de">' in page and "Benachrichtigungen bestätigen" in page
    assert client.post(link.group(1)).status_code == 200
    assert Alert.objects.get(email="anna@example.com").language == "de"

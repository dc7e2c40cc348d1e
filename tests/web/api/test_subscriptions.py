"""Webhook subscriptions through the API: tokens only, the lifecycle, errors naming the field,
and deliveries with every attempt."""

import json

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from outages.models import Subscription, WebhookDelivery
from outages.webhooks import incident_notify, webhook_deliver
from tests.webhooks import open_incident, subscribe

pytestmark = pytest.mark.django_db


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
        ({"url": "https://example.com", "countries": ["U1"]}, "countries.0"),
        # Fields the schema does not declare (additionalProperties: false) are refused, not
        # dropped: a misspelt filter would otherwise subscribe to everything.
        ({"url": "https://example.com", "country": ["BR"]}, "country"),
        ({"url": "https://example.com", "\ud800": 1}, "\\ud800"),
        # JSON booleans only, as the schema says; DRF alone would take "yes" or 1.
        ({"url": "https://example.com", "active": "yes"}, "active"),
        ({"url": "https://example.com", "active": 1}, "active"),
        ({"url": "https://example.com/\ud800"}, "url"),
    ],
)
def test_bad_subscriptions_name_the_field(bot_api, tiktok, body, field):
    # json.dumps, which escapes a lone surrogate as a client would; DRF's test renderer cannot.
    r = bot_api.post("/api/v1/subscriptions", json.dumps(body), content_type="application/json")
    assert r.status_code == 400 and field in r.json()["fields"]


@pytest.mark.parametrize(
    ("body", "field"),
    [({"rotate_secret": "true"}, "rotate_secret"), ({"min_levle": "possible"}, "min_levle")],
)
def test_bad_changes_name_the_field(bot_api, tiktok, body, field):
    sid = bot_api.post("/api/v1/subscriptions", {"url": "https://example.com"}, format="json")
    r = bot_api.patch(f"/api/v1/subscriptions/{sid.json()['id']}", body, format="json")
    assert r.status_code == 400 and field in r.json()["fields"], r.content


def test_deliveries_show_every_attempt(bot_api, owner, tiktok, receiver):
    receiver.statuses = [500]
    subscription = subscribe(owner, receiver.url)
    incident_notify(incident_id=open_incident(tiktok).id)
    delivery = WebhookDelivery.objects.get()
    with pytest.raises(Exception, match="HTTP 500"):
        webhook_deliver(delivery_id=delivery.id)
    webhook_deliver(delivery_id=delivery.id)
    body = bot_api.get(f"/api/v1/subscriptions/{subscription.id}/deliveries").json()
    [row] = body["deliveries"]
    assert row["status"] == "delivered" and [t["status_code"] for t in row["tries"]] == [500, 200]

"""The notify claim pinned: the delivery it creates belongs to its incident and carries the
payload as compact JSON, the bytes that are signed and sent."""

import json

import pytest

from outages.models import WebhookDelivery
from outages.webhooks import incident_notify
from tests.webhooks import open_incident, subscribe

pytestmark = pytest.mark.django_db


def test_the_claim_creates_the_incidents_delivery_with_a_compact_body(tiktok, owner, receiver):
    subscription = subscribe(owner, receiver.url)
    incident = open_incident(tiktok)
    (delivery_id,) = incident_notify(incident_id=incident.id)
    delivery = WebhookDelivery.objects.get(id=delivery_id)
    assert (delivery.incident_id, delivery.subscription_id, delivery.event) == (
        incident.id,
        subscription.id,
        "opened",
    )
    assert delivery.outage_event_id is None
    assert delivery.body.startswith('{"event":"opened","previous_level":null,"outage":{"id":')
    assert json.dumps(json.loads(delivery.body), separators=(",", ":")) == delivery.body

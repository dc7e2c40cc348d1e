"""Events in the database: formed, grown, shrunk and ended by the detection pass's incident
step, safe on concurrent workers, and shown on pages, in the API, the feeds and webhooks."""

import json
import threading
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.test import Client
from django.utils import timezone

from common.cache import detection_pass_mark
from outages.catalogue import ACCESS, DEPENDENCIES, STATUS_PAGES
from outages.models import (
    AccessProvider,
    Dependency,
    Event,
    Incident,
    Service,
    StatusPage,
    WebhookDelivery,
)
from outages.services import events_apply, incident_resolve
from outages.webhooks import event_notify
from tests.incidents import incident_add
from tests.webhooks import subscribe

NOW = timezone.now().replace(second=0, microsecond=0)


@pytest.fixture
def catalogue(db):
    call_command("seed_services", stdout=open("/dev/null", "w"))  # noqa: SIM115
    return {s.slug: s for s in Service.objects.all()}


def cloudflare_down(catalogue, country="DE"):
    """Cloudflare and three of its customers in the catalogue, within six minutes."""
    return [
        incident_add(
            catalogue[slug], started_at=NOW - timedelta(minutes=10 - i * 2), country=country
        )
        for i, slug in enumerate(["cloudflare", "discord", "shopify", "x"])
    ]


def test_the_seed_writes_the_dependency_map_once_and_keeps_edits(catalogue):
    assert Dependency.objects.count() == len(DEPENDENCIES)
    assert AccessProvider.objects.count() == len(ACCESS)
    assert StatusPage.objects.count() == len(STATUS_PAGES)
    assert StatusPage.objects.get(service__slug="github").url == "https://www.githubstatus.com"
    assert {"akamai", "fastly", "aws", "cloudflare", "azure", "google-cloud"} <= set(catalogue)
    fact = Dependency.objects.get(service__slug="discord", provider__slug="cloudflare")
    fact.source = "https://example.org/edited"
    fact.save()
    call_command("seed_services", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert Dependency.objects.count() == len(DEPENDENCIES)
    fact.refresh_from_db()
    assert fact.source == "https://example.org/edited"
    assert all(d.source.startswith("https://") for d in Dependency.objects.all())


def test_the_database_refuses_a_service_depending_on_itself(catalogue):
    with pytest.raises(IntegrityError), transaction.atomic():
        Dependency.objects.create(
            service=catalogue["x"], provider=catalogue["x"], kind="cdn", source="https://x.com"
        )


def test_a_provider_outage_forms_one_event_that_grows_shrinks_and_ends(catalogue):
    cf, discord, shopify, x = cloudflare_down(catalogue)
    incident_add(catalogue["netflix"], started_at=NOW - timedelta(minutes=9), country="DE")
    applied = events_apply(at=NOW)
    assert (applied.opened, applied.ended) == (1, 0)
    event = Event.objects.get()
    assert (event.country, event.cause, event.cause_service_id, event.cause_has_problems) == (
        "DE",
        "provider",
        cf.id and catalogue["cloudflare"].id,
        True,
    )
    assert set(event.members.values_list("id", flat=True)) == {cf.id, discord.id, shopify.id, x.id}
    assert (event.active_members, event.peak_members, event.version) == (4, 4, 1)
    assert event.anchor_id == cf.id and event.started_at == cf.started_at
    # The same pass again changes nothing.
    assert events_apply(at=NOW) == type(applied)(opened=0, changed=0, ended=0)
    # Twenty minutes later ChatGPT (on Cloudflare) joins the open event.
    late = incident_add(catalogue["chatgpt"], started_at=NOW + timedelta(minutes=10), country="DE")
    events_apply(at=NOW + timedelta(minutes=11))
    event.refresh_from_db()
    assert late.event_id is None and Incident.objects.get(id=late.id).event_id == event.id
    assert (event.active_members, event.peak_members, event.version) == (5, 5, 2)
    for incident in (cf, discord, shopify):
        incident_resolve(incident_id=incident.id, ended_at=NOW + timedelta(minutes=70))
    events_apply(at=NOW + timedelta(minutes=70))
    event.refresh_from_db()
    assert (event.ended_at, event.active_members) == (None, 2)
    incident_resolve(incident_id=x.id, ended_at=NOW + timedelta(minutes=80))
    assert events_apply(at=NOW + timedelta(minutes=80)).ended == 1
    event.refresh_from_db()
    assert event.ended_at == NOW + timedelta(minutes=80)
    assert (event.active_members, event.peak_members) == (1, 5)


def test_two_unrelated_incidents_make_no_event(catalogue):
    incident_add(catalogue["netflix"], started_at=NOW, country="ES")
    incident_add(catalogue["steam"], started_at=NOW, country="ES")
    events_apply(at=NOW)
    assert not Event.objects.exists()


def test_the_database_refuses_a_second_open_event_with_one_anchor(catalogue):
    cf, *_ = cloudflare_down(catalogue)
    events_apply(at=NOW)
    with pytest.raises(IntegrityError), transaction.atomic():
        Event.objects.create(
            country="DE", anchor=cf, started_at=NOW, cause="unknown", updated_at=NOW
        )


@pytest.mark.django_db(transaction=True)
def test_concurrent_passes_form_one_event(catalogue):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL")
    members = {i.id for i in cloudflare_down(catalogue)}
    errors = []
    barrier = threading.Barrier(4)

    def worker():
        try:
            barrier.wait()
            events_apply(at=NOW)
        except Exception as exc:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    event = Event.objects.get()
    assert set(event.members.values_list("id", flat=True)) == members
    assert (event.active_members, event.version) == (4, 1)


def test_a_new_event_is_on_the_pages_after_the_next_pass(catalogue):
    client = Client()
    assert b"event-banner" not in client.get("/").content
    cf, discord, *_ = cloudflare_down(catalogue)
    events_apply(at=NOW)
    # Pages are kept per minute and pass: the banner waits for the pass's mark.
    assert b"event-banner" not in client.get("/").content
    detection_pass_mark(at=timezone.now())
    home = client.get("/").content.decode()
    event = Event.objects.get()
    assert f'href="/events/{event.id}/"' in home
    assert "4 services with problems in Germany since" in home
    assert "likely Cloudflare, which has problems too" in home
    page = client.get("/discord/").content.decode()
    assert "Part of a wider problem" in page and f"/events/{event.id}/" in page
    assert "Cloudflare" in page and "cloudflare.com/case-studies/discord" in page
    assert b"event-banner" not in client.get("/netflix/").content
    detail = client.get(f"/events/{event.id}/")
    assert detail.status_code == 200
    text = detail.content.decode()
    assert text.count('data-testid="event-member"') == 4
    assert "(likely cause)" in text
    assert client.get("/events/999999/").status_code == 404


def test_the_api_lists_events_and_each_incident_names_its_event(catalogue, api):
    cf, discord, *_ = cloudflare_down(catalogue)
    events_apply(at=NOW)
    event = Event.objects.get()
    body = api.get("/api/v1/events").json()
    assert [e["id"] for e in body["events"]] == [event.id]
    detail = api.get(f"/api/v1/events/{event.id}").json()
    assert detail["status"] == "open" and detail["country"] == "DE"
    assert detail["cause"] == {
        "kind": "provider",
        "service": "cloudflare",
        "service_name": "Cloudflare",
        "has_problems": True,
        "text": "likely Cloudflare, which has problems too",
    }
    assert [m["service"] for m in detail["members"]] == ["cloudflare", "discord", "shopify", "x"]
    assert [m["is_cause"] for m in detail["members"]] == [True, False, False, False]
    assert api.get(f"/api/v1/outages/{discord.id}").json()["event"] == event.id
    assert api.get("/api/v1/outages/open").json()["outages"][0]["event"] == event.id
    assert api.get("/api/v1/events?status=ended").json() == {"events": []}
    bad = api.get("/api/v1/events?status=closed")
    assert bad.status_code == 400 and "status" in bad.json()["fields"]
    assert api.get("/api/v1/events?limit=0").json()["fields"].keys() == {"limit"}
    assert api.get("/api/v1/events/999999").status_code == 404


def test_the_feeds_carry_the_event(catalogue):
    cloudflare_down(catalogue)
    events_apply(at=NOW)
    event = Event.objects.get()
    client = Client()
    for path in ("/api/v1/outages.atom", "/api/v1/events.atom", "/api/v1/services/x/outages.atom"):
        feed = client.get(path).content.decode()
        assert f"event-{event.id}" in feed, path
        assert "likely Cloudflare, which has problems too" in feed
    assert (
        f"event-{event.id}"
        not in client.get("/api/v1/services/netflix/outages.atom").content.decode()
    )


def test_events_are_announced_to_webhooks_once_per_change(
    catalogue, owner, receiver, eager, django_capture_on_commit_callbacks
):
    subscribe(owner, receiver.url, countries=["DE"])
    subscribe(owner, receiver.url, countries=["FR"])
    cf, discord, shopify, x = cloudflare_down(catalogue)
    with django_capture_on_commit_callbacks(execute=True):
        events_apply(at=NOW)
    event = Event.objects.get()
    assert event_notify(event_id=event.id) == []  # claimed already
    with django_capture_on_commit_callbacks(execute=True):
        incident_resolve(incident_id=cf.id, ended_at=NOW + timedelta(minutes=5))
        events_apply(at=NOW + timedelta(minutes=5))
    with django_capture_on_commit_callbacks(execute=True):
        for incident in (discord, shopify):
            incident_resolve(incident_id=incident.id, ended_at=NOW + timedelta(minutes=9))
        events_apply(at=NOW + timedelta(minutes=9))
    bodies = [json.loads(body) for _, body in receiver.requests]
    kinds = [b["event"] for b in bodies if b["event"].startswith("event_")]
    assert kinds == ["event_opened", "event_changed", "event_ended"]
    wider = [b["wider_problem"] for b in bodies if "wider_problem" in b]
    assert wider[0]["id"] == event.id and wider[0]["active_members"] == 4
    assert wider[1]["cause"]["has_problems"] is False  # Cloudflare's own incident is over
    assert wider[2]["status"] == "ended"
    deliveries = WebhookDelivery.objects.filter(outage_event=event)
    assert deliveries.count() == 3 and {d.incident_id for d in deliveries} == {None}
    incident_bodies = [b for b in bodies if "outage" in b]
    assert incident_bodies and incident_bodies[0]["outage"]["event"] in (None, event.id)

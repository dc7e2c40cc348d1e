"""Events pinned: what each pass reports it opened, changed and ended; one event ending while
another stays open; the dependency map as the grouping reads it; and two detection workers
made to collide (a table lock holds their event inserts until both have looked), so that the
loser's branch runs: it joins the winner's event, or gives up an event it could not fill."""

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import astuple
from datetime import timedelta

import pytest
from django.db import connection, connections, transaction

from outages.models import Event, Incident
from outages.services import EventsApplied, dependency_map, events_apply, incident_resolve
from tests.incidents import incident_add
from tests.outages.test_events import NOW, catalogue, cloudflare_down

__all__ = ["catalogue"]  # a fixture


def test_each_pass_counts_what_it_opened_changed_and_ended(catalogue):
    cf, discord, shopify, x = cloudflare_down(catalogue)
    assert events_apply(at=NOW) == EventsApplied(opened=1, changed=1, ended=0)
    assert events_apply(at=NOW) == EventsApplied(opened=0, changed=0, ended=0)
    incident_resolve(incident_id=cf.id, ended_at=NOW + timedelta(minutes=5))
    assert events_apply(at=NOW + timedelta(minutes=5)) == EventsApplied(0, 1, 0)
    for incident in (discord, shopify):
        incident_resolve(incident_id=incident.id, ended_at=NOW + timedelta(minutes=9))
    assert events_apply(at=NOW + timedelta(minutes=9)) == EventsApplied(0, 0, 1)
    event = Event.objects.get()
    assert (event.ended_at, event.active_members, event.peak_members, event.version) == (
        NOW + timedelta(minutes=9),
        1,
        4,
        3,
    )


def test_an_event_that_ends_leaves_the_other_open_events_as_they_are(catalogue):
    germany = cloudflare_down(catalogue, country="DE")
    cloudflare_down(catalogue, country="FR")
    assert events_apply(at=NOW).opened == 2
    for incident in germany[:3]:
        incident_resolve(incident_id=incident.id, ended_at=NOW + timedelta(minutes=3))
    assert events_apply(at=NOW + timedelta(minutes=3)) == EventsApplied(0, 0, 1)
    rows = {e.country: e for e in Event.objects.all()}
    assert rows["DE"].ended_at == NOW + timedelta(minutes=3)
    assert (rows["FR"].ended_at, rows["FR"].version, rows["FR"].active_members) == (None, 1, 4)


def test_the_dependency_map_as_the_grouping_reads_it(catalogue):
    deps = dependency_map()
    ids = {slug: s.id for slug, s in catalogue.items()}
    assert ids["cloudflare"] in deps.providers[ids["discord"]]
    assert deps.providers[ids["discord"]] == frozenset({ids["cloudflare"], ids["google-cloud"]})
    assert ids["vodafone"] in deps.access["ES"]
    assert None not in deps.access


def _waiting_event_inserts() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = %s::regclass",
            [Event._meta.db_table],
        )
        return int(cursor.fetchone()[0])


def _until_waiting(count: int) -> None:
    deadline = time.monotonic() + 20
    while _waiting_event_inserts() < count:
        assert time.monotonic() < deadline, "the passes never reached their inserts"
        time.sleep(0.005)


def _pass() -> EventsApplied:
    try:
        return events_apply(at=NOW)
    finally:
        connections.close_all()


@pytest.mark.django_db(transaction=True)
def test_two_passes_forming_one_event_collide_and_the_loser_joins_it(catalogue):
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's locks")
    cf, *rest = cloudflare_down(catalogue)
    # The same anchor led an event before, which ended: the loser must find the open one.
    old = Event.objects.create(
        country="DE", anchor=cf, started_at=cf.started_at, cause="unknown", updated_at=NOW
    )
    Event.objects.filter(id=old.id).update(ended_at=NOW - timedelta(minutes=1))
    Incident.objects.filter(id=cf.id).update(event=old)
    with ThreadPoolExecutor(max_workers=2) as pool:
        with transaction.atomic():
            with connection.cursor() as cursor:
                # SHARE admits the passes' reads but holds their inserts.
                cursor.execute(f"LOCK TABLE {Event._meta.db_table} IN SHARE MODE")
            passes = [pool.submit(_pass), pool.submit(_pass)]
            _until_waiting(2)
        results = sorted((p.result(timeout=20) for p in passes), key=astuple)
    # The loser's insert failed on the anchor and it updated the winner's event: nothing new.
    assert results == [EventsApplied(0, 0, 0), EventsApplied(1, 1, 0)]
    event = Event.objects.get(ended_at=None)
    assert event.anchor_id == cf.id and event.id != old.id
    assert set(event.members.values_list("id", flat=True)) == {cf.id, *(i.id for i in rest)}
    assert (event.active_members, event.version) == (4, 1)


@pytest.mark.django_db(transaction=True)
def test_a_pass_whose_members_another_pass_claimed_gives_its_event_up(catalogue):
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's locks")
    members = {i.id for i in cloudflare_down(catalogue)}

    def earlier_customer() -> Incident:
        try:
            # ChatGPT runs on Cloudflare and started before it: the anchor of a later look.
            return incident_add(
                catalogue["chatgpt"], started_at=NOW - timedelta(minutes=12), country="DE"
            )
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=3) as pool:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(f"LOCK TABLE {Event._meta.db_table} IN SHARE MODE")
            # The first pass has read the four incidents and waits to insert its event ...
            first = pool.submit(_pass)
            _until_waiting(1)
            # ... when ChatGPT's incident opens; the second pass reads all five.
            chatgpt = pool.submit(earlier_customer).result(timeout=20)
            second = pool.submit(_pass)
            _until_waiting(2)
        results = [first.result(timeout=20), second.result(timeout=20)]
    # Both created an event (with different anchors). The one that claimed the members
    # second was left with fewer than two of its own: it gave its event up (deleted it).
    assert sorted(results, key=astuple) == [EventsApplied(1, 0, 0), EventsApplied(1, 1, 0)]
    (event,) = Event.objects.all()
    claimed = set(event.members.values_list("id", flat=True))
    assert claimed in (members, members | {chatgpt.id})
    assert (event.active_members, event.version) == (len(claimed), 1)
    assert Incident.objects.filter(event=None).count() == 5 - len(claimed)

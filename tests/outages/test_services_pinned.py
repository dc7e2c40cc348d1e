"""Incident services pinned: what opening, escalating, resolving and the status rows store,
field by field, and the race of two detection workers opening the same incident, made to
collide on the insert (a table lock holds both inserts until both have looked)."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, connections, transaction

from outages.models import (
    Incident,
    OutboxMessage,
    OutboxTask,
    ServiceStatus,
    Subscription,
)
from outages.services import (
    SeriesState,
    back_to_usual,
    detection_apply,
    incident_observe,
    incident_record_past,
    incident_resolve,
    incident_set_breakdown,
    recovered,
)
from tests.incidents import incident_add

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def minute(n: int) -> datetime:
    return T0 + timedelta(minutes=n)


def notified(incident_id: int) -> int:
    return OutboxMessage.objects.filter(task=OutboxTask.NOTIFY, object_id=incident_id).count()


@pytest.fixture
def subscribed(owner) -> Subscription:
    # announce_later writes a message only while someone listens.
    return Subscription.objects.create(
        owner=owner, url="https://hooks.example.com/x", min_level="possible", secret="s" * 64
    )


def observe(service_id: int, level: str, at: datetime, reports: float, **kw):
    return incident_observe(
        service_id=service_id,
        country=kw.pop("country", ""),
        level=level,
        at=at,
        started_at=kw.pop("started_at", at),
        reports=reports,
        expected=kw.pop("expected", 4.0),
    )


@pytest.mark.django_db
def test_opening_stores_every_field(tiktok, subscribed):
    incident, opened = observe(tiktok.id, "possible", minute(5), 30.0, started_at=minute(2))
    assert opened is True
    got = Incident.objects.get(id=incident.id)
    assert (got.level, got.max_level, got.country) == ("possible", "possible", "")
    assert (got.started_at, got.peak_at, got.ended_at) == (minute(2), minute(5), None)
    assert (got.peak_reports, got.peak_expected) == (30.0, 4.0)
    assert notified(incident.id) == 1


@pytest.mark.django_db
def test_a_start_after_the_minute_judged_is_the_minute_itself(tiktok):
    incident, _ = observe(tiktok.id, "outage", minute(5), 30.0, started_at=minute(9))
    assert Incident.objects.get(id=incident.id).started_at == minute(5)


@pytest.mark.django_db
def test_escalation_saves_max_level_and_a_fall_back_keeps_it(tiktok, subscribed):
    first, _ = observe(tiktok.id, "possible", minute(0), 20.0)
    again, opened = observe(tiktok.id, "outage", minute(1), 50.0, expected=5.0)
    assert (again.id, opened) == (first.id, False)
    got = Incident.objects.get(id=first.id)
    assert (got.level, got.max_level) == ("outage", "outage")
    assert (got.peak_at, got.peak_reports, got.peak_expected) == (minute(1), 50.0, 5.0)
    assert notified(first.id) == 2  # opened, then the level changed
    observe(tiktok.id, "possible", minute(2), 10.0, expected=6.0)
    got = Incident.objects.get(id=first.id)
    assert (got.level, got.max_level) == ("possible", "outage")
    # A smaller minute is no new peak.
    assert (got.peak_at, got.peak_reports, got.peak_expected) == (minute(1), 50.0, 5.0)
    assert notified(first.id) == 3
    observe(tiktok.id, "possible", minute(3), 50.0, expected=7.0)
    got = Incident.objects.get(id=first.id)
    # An equal count is no new peak either; the same level announces nothing.
    assert (got.peak_at, got.peak_reports, got.peak_expected) == (minute(1), 50.0, 5.0)
    assert notified(first.id) == 3
    observe(tiktok.id, "possible", minute(4), 51.0, expected=7.0)
    got = Incident.objects.get(id=first.id)
    assert (got.peak_at, got.peak_reports, got.peak_expected) == (minute(4), 51.0, 7.0)


@pytest.mark.django_db
def test_scopes_are_separate_incidents(tiktok, gmail):
    world, _ = observe(tiktok.id, "outage", minute(0), 20.0)
    brazil, opened = observe(tiktok.id, "outage", minute(0), 20.0, country="BR")
    other, opened_other = observe(gmail.id, "outage", minute(0), 20.0)
    assert opened and opened_other
    assert len({world.id, brazil.id, other.id}) == 3


@pytest.mark.django_db
def test_resolving_an_already_closed_incident_reports_false(tiktok, subscribed):
    incident, _ = observe(tiktok.id, "outage", minute(0), 20.0)
    assert incident_resolve(incident_id=incident.id, ended_at=minute(30)) is True
    got = Incident.objects.get(id=incident.id)
    assert (got.ended_at, got.level, got.max_level) == (minute(30), "ok", "outage")
    assert notified(incident.id) == 2
    assert incident_resolve(incident_id=incident.id, ended_at=minute(40)) is False
    assert Incident.objects.get(id=incident.id).ended_at == minute(30)
    assert notified(incident.id) == 2
    # After it closed, the scope opens a new incident.
    new, opened = observe(tiktok.id, "outage", minute(50), 20.0)
    assert opened and new.id != incident.id


@pytest.mark.django_db
def test_breakdown_announces_an_unannounced_state_once(tiktok, subscribed):
    incident = incident_add(tiktok, started_at=minute(0))
    regions = [{"code": "US", "share": 1.0}]
    problems = [{"problem": "login", "share": 1.0}]
    incident_set_breakdown(incident_id=incident.id, regions=regions, problems=problems)
    got = Incident.objects.get(id=incident.id)
    assert (got.regions, got.problems) == (regions, problems)
    assert notified(incident.id) == 1
    # The message still waits: no second one.
    incident_set_breakdown(incident_id=incident.id, regions=regions, problems=problems)
    assert notified(incident.id) == 1
    OutboxMessage.objects.all().delete()
    Incident.objects.filter(id=incident.id).update(notified_level="outage")
    incident_set_breakdown(incident_id=incident.id, regions=[], problems=[])
    assert notified(incident.id) == 0  # announced already
    Incident.objects.filter(id=incident.id).update(notified_level="", ended_at=minute(9))
    incident_set_breakdown(incident_id=incident.id, regions=[], problems=[])
    assert notified(incident.id) == 0  # closed: its closing is announced by the resolve


def state(service_id: int, level: str, country: str = "", **kw) -> SeriesState:
    return SeriesState(
        service_id=service_id,
        country=country,
        level=level,
        since=kw.get("since", minute(0)),
        reports=kw.get("reports", 30.0),
        expected=kw.get("expected", 4.0),
        recent=kw.get("recent", 100.0),
        recent_expected=kw.get("recent_expected", 20.0),
        threshold=kw.get("threshold", 12.0),
    )


@pytest.mark.django_db
def test_detection_apply_opens_on_outage_only_and_writes_statuses(tiktok, gmail):
    applied = detection_apply(
        at=minute(10),
        now=minute(11),
        states=[state(tiktok.id, "possible"), state(gmail.id, "outage", reports=44.0)],
    )
    assert (applied.opened, applied.resolved) == (1, 0)
    (incident,) = Incident.objects.all()
    assert [a.id for a in applied.active] == [incident.id]
    assert (incident.service_id, incident.level, incident.started_at) == (
        gmail.id,
        "outage",
        minute(0),
    )
    assert (incident.peak_at, incident.peak_reports) == (minute(10), 44.0)
    rows = {s.service_id: s for s in ServiceStatus.objects.all()}
    assert (rows[tiktok.id].level, rows[tiktok.id].since) == ("possible", minute(0))
    assert (rows[tiktok.id].current, rows[tiktok.id].expected) == (100.0, 20.0)
    assert (rows[tiktok.id].threshold, rows[tiktok.id].updated_at) == (12.0, minute(11))
    assert rows[gmail.id].level == "outage"


@pytest.mark.django_db
def test_possible_keeps_an_open_incident_and_ok_resolves_it(tiktok):
    detection_apply(at=minute(0), now=minute(0), states=[state(tiktok.id, "outage")])
    applied = detection_apply(at=minute(1), now=minute(1), states=[state(tiktok.id, "possible")])
    assert (applied.opened, applied.resolved, len(applied.active)) == (0, 0, 1)
    assert Incident.objects.get().level == "possible"
    applied = detection_apply(
        at=minute(2), now=minute(2), states=[state(tiktok.id, "ok", since=minute(2))]
    )
    assert (applied.opened, applied.resolved, applied.active) == (0, 1, [])
    got = Incident.objects.get()
    assert (got.ended_at, got.level) == (minute(2), "ok")
    status = ServiceStatus.objects.get(service=tiktok)
    assert (status.level, status.since) == ("ok", None)
    # A series with no state at all (no reports left) resolves its incident too.
    detection_apply(at=minute(3), now=minute(3), states=[state(tiktok.id, "outage")])
    applied = detection_apply(at=minute(4), now=minute(4), states=[])
    assert applied.resolved == 1
    assert Incident.objects.filter(ended_at=None).count() == 0


@pytest.mark.django_db
def test_a_country_incident_raises_its_service_status(tiktok, gmail):
    detection_apply(
        at=minute(5),
        now=minute(5),
        states=[
            state(tiktok.id, "ok", since=None),
            state(tiktok.id, "outage", country="BR", since=minute(3)),
            state(gmail.id, "possible", since=minute(1)),
            state(gmail.id, "possible", country="FR", since=minute(1)),
        ],
    )
    (incident,) = Incident.objects.all()
    assert incident.country == "BR"
    rows = {s.service_id: s for s in ServiceStatus.objects.all()}
    assert (rows[tiktok.id].level, rows[tiktok.id].since) == ("outage", minute(3))
    # A "possible" in a country opens nothing and leaves the service's own status.
    assert (rows[gmail.id].level, rows[gmail.id].since) == ("possible", minute(1))


@pytest.mark.django_db
def test_a_country_incident_does_not_lower_a_higher_status(tiktok):
    detection_apply(at=minute(0), now=minute(0), states=[state(tiktok.id, "outage", country="BR")])
    detection_apply(
        at=minute(1),
        now=minute(1),
        states=[
            state(tiktok.id, "outage", since=minute(1)),
            state(tiktok.id, "possible", country="BR"),
        ],
    )
    status = ServiceStatus.objects.get(service=tiktok)
    assert (status.level, status.since) == ("outage", minute(1))


@pytest.mark.django_db
def test_services_without_a_series_get_an_ok_status_and_odd_levels_read_ok(tiktok, gmail):
    detection_apply(at=minute(0), now=minute(7), states=[state(tiktok.id, "learning")])
    rows = {s.service_id: s for s in ServiceStatus.objects.all()}
    assert rows[tiktok.id].level == "ok"
    assert (rows[gmail.id].level, rows[gmail.id].since, rows[gmail.id].updated_at) == (
        "ok",
        None,
        minute(7),
    )
    assert Incident.objects.count() == 0


@pytest.mark.django_db
def test_record_past_keeps_outages_once(tiktok):
    args = dict(
        service_id=tiktok.id,
        country="",
        started_at=minute(0),
        ended_at=minute(20),
        peak_at=minute(5),
        peak_reports=40.0,
        peak_expected=4.0,
    )
    assert incident_record_past(max_level="possible", **args) is None
    assert Incident.objects.count() == 0
    recorded = incident_record_past(max_level="outage", **args)
    assert recorded is not None
    got = Incident.objects.get()
    assert (got.level, got.max_level, got.ended_at, got.peak_at) == (
        "ok",
        "outage",
        minute(20),
        minute(5),
    )
    assert (got.peak_reports, got.peak_expected) == (40.0, 4.0)
    assert incident_record_past(max_level="outage", **args) is None
    assert Incident.objects.count() == 1


def _waiting_inserts() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = %s::regclass",
            [Incident._meta.db_table],
        )
        return int(cursor.fetchone()[0])


@pytest.mark.django_db(transaction=True)
def test_two_workers_opening_one_incident_collide_and_the_loser_updates(tiktok):
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's locks")
    barrier = threading.Barrier(3)

    def worker(level: str, reports: float) -> tuple[int, bool]:
        try:
            barrier.wait(timeout=10)
            incident, opened = observe(tiktok.id, level, minute(1), reports)
            return incident.id, opened
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=2) as pool:
        with transaction.atomic():
            with connection.cursor() as cursor:
                # SHARE admits both workers' SELECT ... FOR UPDATE but holds their INSERTs.
                cursor.execute(f"LOCK TABLE {Incident._meta.db_table} IN SHARE MODE")
            futures = {
                "possible": pool.submit(worker, "possible", 20.0),
                "outage": pool.submit(worker, "outage", 60.0),
            }
            barrier.wait(timeout=10)
            deadline = time.monotonic() + 20
            while _waiting_inserts() < 2:
                assert time.monotonic() < deadline, "the workers never reached their inserts"
                time.sleep(0.005)
        results = {level: f.result(timeout=20) for level, f in futures.items()}
    assert Incident.objects.count() == 1
    incident = Incident.objects.get()
    assert {results["possible"][0], results["outage"][0]} == {incident.id}
    assert sorted(opened for _, opened in results.values()) == [False, True]
    loser = next(level for level, (_, opened) in results.items() if not opened)
    # The loser's branch ran: it updated the winner's row with its own level.
    assert incident.level == loser
    assert incident.max_level == "outage"
    assert (incident.peak_reports, incident.peak_at) == (60.0, minute(1))


# ------------------------------------------------------------------------ the seeded maps


@pytest.mark.django_db
def test_the_dependency_map_seed_adds_each_kind_and_country_once_and_counts_them(tiktok, gmail):
    from outages.catalogue import Access, Fact
    from outages.models import AccessProvider, Dependency
    from outages.services import dependency_map_seed

    facts = [
        Fact("tiktok", "gmail", "cdn", "https://example.org/cdn"),
        Fact("tiktok", "gmail", "dns", "https://example.org/dns"),
    ]
    access = [Access("gmail", "ES", "https://example.org/es")]
    assert dependency_map_seed(facts=facts, access=access) == (2, 1)
    assert sorted(Dependency.objects.values_list("kind", "source")) == [
        ("cdn", "https://example.org/cdn"),
        ("dns", "https://example.org/dns"),
    ]
    assert list(AccessProvider.objects.values_list("service__slug", "country", "source")) == [
        ("gmail", "ES", "https://example.org/es")
    ]
    again = [*facts, Fact("gmail", "tiktok", "hosting", "https://example.org/h")]
    assert dependency_map_seed(facts=again, access=access) == (1, 0)


@pytest.mark.django_db
def test_the_status_page_seed_counts_the_pages_it_adds(tiktok, gmail):
    from outages.catalogue import StatusSource
    from outages.models import StatusPage
    from outages.services import status_pages_seed

    tiktok_page = StatusSource("tiktok", "feed", "https://example.org/t.rss", "https://t.example")
    gmail_page = StatusSource("gmail", "feed", "https://example.org/g.rss", "https://g.example")
    assert status_pages_seed(sources=[tiktok_page]) == 1
    assert status_pages_seed(sources=[tiktok_page, gmail_page]) == 1
    assert StatusPage.objects.get(service=gmail).page_url == "https://g.example"


@pytest.mark.django_db
def test_a_refused_webhook_url_is_an_error_of_the_url_field(owner):
    from django.core.exceptions import ValidationError

    from outages.services import subscription_create

    with pytest.raises(ValidationError) as refused:
        subscription_create(
            owner=owner, url="http://localhost/hook", services=[], countries=[], min_level="outage"
        )
    assert refused.value.message_dict == {"url": ["Must be a public address."]}
    assert not Subscription.objects.exists()


# ------------------------------------------------- "it works again": closing on people's word


def latest(reports: float, expected: float) -> SeriesState:
    return replace(state(1, "outage"), latest=reports, latest_expected=expected)


def test_back_to_usual_is_within_three_reports_or_one_and_a_half_times_the_usual():
    # Few expected: three more than expected is still the usual (2 + 3 = 5 > 1.5 × 2).
    assert back_to_usual(latest(5.0, 2.0)) is True
    assert back_to_usual(latest(5.01, 2.0)) is False
    # Many expected: one and a half times (15 > 10 + 3).
    assert back_to_usual(latest(15.0, 10.0)) is True
    assert back_to_usual(latest(15.01, 10.0)) is False
    # Where both bounds are the same (6 expected: 9 either way).
    assert back_to_usual(latest(9.0, 6.0)) is True
    assert back_to_usual(latest(9.01, 6.0)) is False
    assert back_to_usual(latest(3.0, 0.0)) is True
    assert back_to_usual(latest(3.01, 0.0)) is False


def test_recovered_takes_three_people_and_at_least_as_many_as_the_reports_above_the_usual():
    # 5 reports where 2 are expected: 3 above it.
    assert recovered(latest(5.0, 2.0), said=3) is True
    assert recovered(latest(5.0, 2.0), said=2) is False
    # 15 where 10 are expected: 5 above it, so three people are not enough; five are.
    assert recovered(latest(15.0, 10.0), said=4) is False
    assert recovered(latest(15.0, 10.0), said=5) is True
    # Quiet reports: three people, never fewer.
    assert recovered(latest(0.0, 0.0), said=3) is True
    assert recovered(latest(0.0, 0.0), said=2) is False
    # However many say so, reports above the usual keep it open.
    assert recovered(latest(16.0, 10.0), said=50) is False

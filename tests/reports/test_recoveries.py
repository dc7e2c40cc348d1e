""" "It works again for me": taken only while an incident is open, under the intake's rules and
limits, never counted as a problem report, and a reason to close an incident sooner."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from analytics.models import MinuteCount
from analytics.rollup import rollup_run
from analytics.services import detection_run
from outages.models import Incident, ServiceStatus
from reports.models import Recovery, Report
from tests.analytics.test_detection_run import NOW, burst, run, steady_history

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("one_window")]

BODY = {"service": "tiktok", "country": "BR"}


def post(api, body=BODY, ip="198.51.100.20"):
    return api.post(
        "/api/v1/recoveries", data=json.dumps(body), content_type="application/json", REMOTE_ADDR=ip
    )


@pytest.fixture
def incident(tiktok):
    return Incident.objects.create(
        service=tiktok,
        country="",
        level="outage",
        max_level="outage",
        started_at=timezone.now() - timedelta(minutes=20),
        peak_at=timezone.now() - timedelta(minutes=10),
        peak_reports=50,
        peak_expected=4,
    )


def test_without_an_open_incident_there_is_nothing_to_recover_from(api, tiktok):
    r = post(api)
    assert r.status_code == 409
    assert r.json()["error"] == "no_open_incident"
    assert Recovery.objects.count() == 0


def test_a_recovery_is_stored_once_per_client_and_window(api, incident):
    r = post(api)
    assert r.status_code == 201, r.content
    assert r.json()["service"] == "tiktok" and r.json()["country"] == "BR"
    again = post(api)
    assert again.status_code == 200 and again.json()["counted"] is False
    assert post(api, ip="198.51.100.21").status_code == 201
    assert Recovery.objects.count() == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"service": "tiktok", "country": "XX"}, "country"),
        ({"service": "tiktok"}, "country"),
        ({"service": "nope", "country": "BR"}, "service"),
        ({"service": "tiktok", "country": "BR", "subdivision": "US-CA"}, "subdivision"),
        ({"service": "tiktok", "country": "BR", "problem": "login"}, "problem"),
        ({"service": "tiktok", "country": "B\u0000"}, "country"),
    ],
)
def test_bad_input_names_its_field_and_stores_nothing(api, incident, body, field):
    r = post(api, body)
    assert r.status_code == 400, r.content
    assert list(r.json()["fields"]) == [field]
    assert Recovery.objects.count() == 0


def test_recoveries_share_the_addresss_rate_limit_with_reports(api, incident, settings):
    settings.RATE_LIMIT_REPORTS = 2
    report = {"service": "tiktok", "problem": "login", "country": "BR"}
    assert api.post(
        "/api/v1/reports", data=json.dumps(report), content_type="application/json"
    ).status_code in (200, 201)
    assert post(api, ip="127.0.0.1").status_code == 201
    limited = post(api, {"service": "tiktok", "country": "US"}, ip="127.0.0.1")
    assert limited.status_code == 429 and limited["Retry-After"]


def test_recoveries_are_never_counted_as_reports(api, incident, tiktok):
    for k in range(5):
        assert post(api, ip=f"198.51.100.{30 + k}").status_code == 201
    rollup_run(now=timezone.now() + timedelta(minutes=1))
    assert Report.objects.count() == 0
    assert MinuteCount.objects.count() == 0


def test_the_form_takes_a_recovery_only_while_an_incident_is_open(client, tiktok):
    page = client.get("/tiktok/works-again")
    assert page.status_code == 200 and b'data-testid="no-incident"' in page.content
    assert client.post("/tiktok/works-again", {"country": "BR"}).status_code == 409
    Incident.objects.create(
        service=tiktok,
        level="outage",
        max_level="outage",
        started_at=timezone.now(),
        peak_at=timezone.now(),
        peak_reports=9,
        peak_expected=1,
    )
    assert b'name="country"' in client.get("/tiktok/works-again").content
    assert client.post("/tiktok/works-again", {"country": "ZZ"}).status_code == 400
    r = client.post("/tiktok/works-again", {"country": "BR"})
    assert r.status_code == 302 and r["Location"] == "/tiktok/works-again/thanks"
    assert Recovery.objects.get().country == "BR"


def test_the_incident_api_and_page_show_where_it_works_again(api, client, incident):
    for k, country in enumerate(["BR", "BR", "US"]):
        assert (
            post(api, {"service": "tiktok", "country": country}, ip=f"192.0.2.{k}").status_code
            == 201
        )
    data = api.get(f"/api/v1/outages/{incident.id}").json()
    assert data["recoveries"] == [
        {"country": "BR", "country_name": "Brazil", "count": 2},
        {"country": "US", "country_name": "United States", "count": 1},
    ]
    page = client.get("/tiktok/").content.decode()
    assert "It works again for people in: Brazil (2), United States (1)." in page
    assert 'href="/tiktok/works-again"' in page


# ------------------------------------------------------------------------------ end to end


def add_recoveries(service, *, at, count):
    Recovery.objects.bulk_create(
        [
            Recovery(service=service, country="US", created_at=at, source="api", client_key=f"r{k}")
            for k in range(count)
        ]
    )


def usual_reports(service, *, start, minutes):
    Report.objects.bulk_create(
        [
            Report(
                service=service,
                problem="playback",
                country=("US", "GB", "DE", "US")[k % 4],
                created_at=start + timedelta(seconds=15 * k),
                source="api",
                client_key=f"after{k}",
            )
            for k in range(minutes * 4)
        ]
    )


def resolved_at(service, *, recoveries: int) -> int:
    """Minutes after the burst that its incident resolved, with `recoveries` people saying
    it works again two minutes after the burst ended."""
    steady_history(service)
    burst(service)
    run(NOW)
    incident = Incident.objects.get(service=service, country="")
    usual_reports(service, start=NOW, minutes=60)
    if recoveries:
        add_recoveries(service, at=NOW + timedelta(minutes=2), count=recoveries)
    for minute in range(1, 60):
        at = NOW + timedelta(minutes=minute)
        rollup_run(now=at)
        detection_run(now=at)
        incident.refresh_from_db()
        if incident.ended_at is not None:
            return minute
    raise AssertionError("never resolved")


def test_without_recoveries_the_incident_waits_for_quiet_reports(tiktok):
    # 15 quiet minutes after the detector's windows let go of the burst
    assert resolved_at(tiktok, recoveries=0) == 19


def test_people_saying_it_works_again_close_the_incident_sooner(tiktok):
    # As soon as the last five minutes are back to the usual (the test above: 19).
    minute = resolved_at(tiktok, recoveries=6)
    assert minute == 5
    status = ServiceStatus.objects.get(service=tiktok)
    assert status.level == "ok"
    # and the status stays ok through the detector's memory of the outage, after the
    # recoveries have left the status window too
    for extra in range(1, 16):
        rollup_run(now=NOW + timedelta(minutes=minute + extra))
        detection_run(now=NOW + timedelta(minutes=minute + extra))
        assert ServiceStatus.objects.get(service=tiktok).level == "ok"
        assert Incident.objects.filter(service=tiktok, ended_at=None).count() == 0


def test_two_people_are_not_enough(tiktok):
    assert resolved_at(tiktok, recoveries=2) == 19


def test_three_people_are(tiktok):
    assert resolved_at(tiktok, recoveries=3) == 5

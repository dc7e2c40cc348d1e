"""Incidents in the read API: open ones, the paginated list (and CSV), one incident, feeds."""

import base64
import csv
import io
from datetime import timedelta

import pytest
from django.utils import timezone

from outages.models import Incident, Level

pytestmark = pytest.mark.django_db


def _resolved(service, days_ago, country=""):
    start = timezone.now() - timedelta(days=days_ago)
    return Incident.objects.create(
        service=service,
        country=country,
        level=Level.OK,
        max_level=Level.OUTAGE,
        started_at=start,
        peak_at=start,
        peak_reports=10,
        peak_expected=1,
        ended_at=start + timedelta(hours=1),
        regions=[{"country": "US", "subdivision": "", "reports": 40, "expected": 5, "excess": 35}],
        problems=[{"problem": "email", "reports": 30, "share": 0.75}],
    )


def test_outages_filters_and_cursor_pagination(api, data, tiktok, gmail):
    for d in range(1, 6):
        _resolved(gmail, d)
    _resolved(tiktok, 2, country="BR")
    page = api.get("/api/v1/outages?service=gmail&limit=2").json()
    assert [o["service"] for o in page["results"]] == ["gmail", "gmail"]
    seen = [o["id"] for o in page["results"]]
    while page["next"]:
        page = api.get(page["next"]).json()
        seen += [o["id"] for o in page["results"]]
    assert len(seen) == len(set(seen)) == 5
    assert [o["status"] for o in api.get("/api/v1/outages?status=open").json()["results"]] == [
        "open"
    ]
    assert len(api.get("/api/v1/outages?country=br&status=resolved").json()["results"]) == 1
    since = (timezone.now() - timedelta(days=2, hours=1)).strftime("%Y-%m-%dT%H:%MZ")
    assert len(api.get(f"/api/v1/outages?service=gmail&since={since}").json()["results"]) == 2


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("service=nope", "service"),
        ("status=maybe", "status"),
        ("country=ZZ", "country"),
        ("since=2024-02-01T00:00Z&until=2024-01-01T00:00Z", "since"),
        ("cursor=garbage", "cursor"),
        ("limit=0", "limit"),
    ],
)
def test_outage_list_errors_name_the_parameter(api, data, query, field):
    r = api.get(f"/api/v1/outages?{query}")
    assert r.status_code == 400 and field in r.json()["fields"]


def cursor(query):
    return base64.b64encode(query.encode()).decode()


@pytest.mark.parametrize(
    "query",
    [
        "p=garbage",
        "p=%00",
        "p=\x00",
        "p=2024-01-01 00:00:00",  # no offset: a naive time
        "p=2024-01-01 00:00:00+99:00",
        "p=0001-01-01 00:00:00-05:00",
        "o=-1&p=2024-01-01 00:00:00+00:00",
        "r=x",
    ],
)
def test_a_crafted_cursor_is_refused_naming_it(api, data, gmail, query):
    _resolved(gmail, 1)
    r = api.get("/api/v1/outages", {"cursor": cursor(query)})
    assert r.status_code == 400, r.content
    assert r.json()["fields"] == {
        "cursor": ["Invalid cursor: use the next or previous link as given."]
    }


def test_a_cursor_as_given_still_pages(api, data, gmail):
    for d in range(1, 4):
        _resolved(gmail, d)
    first = api.get("/api/v1/outages?limit=2").json()
    second = api.get(first["next"])
    assert second.status_code == 200, second.content
    seen = [o["id"] for o in first["results"] + second.json()["results"]]
    assert len(seen) == len(set(seen)) == 4


def test_outages_as_csv_with_a_link_to_the_next_page(api, data, gmail):
    for d in range(1, 4):
        _resolved(gmail, d)
    r = api.get("/api/v1/outages?format=csv&limit=2")
    assert r["Content-Type"].startswith("text/csv") and 'rel="next"' in r["Link"]
    rows = list(csv.DictReader(io.StringIO(r.content.decode())))
    assert len(rows) == 2 and rows[0]["service"]


def test_outage_detail_has_regions_problems_and_series(api, data, gmail):
    incident = _resolved(gmail, 1)
    body = api.get(f"/api/v1/outages/{incident.id}").json()
    assert body["regions"][0]["country_name"] == "United States"
    assert body["problems"][0]["name"] == "Sending or receiving email"
    series = body["series"]
    assert series["bucket"] == "1m" and len(series["buckets"]) in (180, 181)
    assert api.get("/api/v1/outages/999999").json()["error"] == "not_found"
    unmatched = api.get("/api/v1/outages/-1")
    assert unmatched.status_code == 404 and unmatched.json()["error"] == "not_found"


def test_open_incidents_link_to_their_detail(api, data):
    opened = api.get("/api/v1/outages/open").json()["outages"][0]
    assert api.get(f"/api/v1/outages/{opened['id']}").status_code == 200


def test_atom_feeds(api, data, gmail):
    _resolved(gmail, 1)
    overall = api.get("/api/v1/outages.atom")
    assert overall.status_code == 200 and b"<feed" in overall.content
    assert overall.content.count(b"<entry>") == Incident.objects.count()
    assert api.get("/api/v1/services/gmail/outages.atom").content.count(b"<entry>") == 1
    assert api.get("/api/v1/services/nope/outages.atom").status_code == 404

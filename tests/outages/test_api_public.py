import csv
import io
from datetime import datetime, timedelta

import pytest
from django.utils import timezone
from rest_framework import serializers

from analytics.models import MinuteCount
from outages.models import Incident, Level
from tests.outages import pagedata

pytestmark = pytest.mark.django_db


@pytest.fixture
def data(tiktok, gmail):
    return pagedata.build(tiktok=tiktok, gmail=gmail)


def test_services_filter_by_category_level_and_search(api, data):
    def slugs(query):
        return [s["slug"] for s in api.get(f"/api/v1/services{query}").json()["services"]]

    assert slugs("?category=social") == ["tiktok"]
    assert slugs("?level=outage") == ["tiktok"]
    assert slugs("?level=ok") == ["gmail"]
    assert slugs("?q=GMA") == ["gmail"]


@pytest.mark.parametrize("query", ["?category=nope", "?level=down"])
def test_bad_service_filters_name_the_parameter(api, data, query):
    r = api.get(f"/api/v1/services{query}")
    assert r.status_code == 400
    assert list(r.json()["fields"]) == [query[1:].split("=")[0]]


def test_service_detail_has_threshold_and_last_hour(api, data):
    body = api.get("/api/v1/services/tiktok").json()
    assert body["last_1h"] >= body["last_15m"] == 60
    assert body["threshold"] == round(max(2 * body["expected"], body["expected"] + 5), 2)


def test_trend_from_to_bucket(api, data):
    now = timezone.now().replace(second=0, microsecond=0)
    start = (now - timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = api.get(f"/api/v1/services/tiktok/trend?from={start}&bucket=1m").json()
    assert body["bucket"] == "1m" and body["bucket_minutes"] == 1
    assert len(body["buckets"]) == 31
    last = body["buckets"][-1]
    assert last["reports"] == 4 and last["level"] == "outage"
    assert last["threshold"] == round(max(2 * last["expected"], last["expected"] + 5), 2)
    assert body["from"].endswith("Z")
    # Bucket times are written the way DRF writes every other timestamp of the API.
    drf = serializers.DateTimeField().to_representation
    assert last["t"] == drf(datetime.fromisoformat(last["t"].replace("Z", "+00:00")))


def test_trend_country_and_problem_filters(api, data):
    start = (timezone.now() - timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%MZ")
    br = api.get(f"/api/v1/services/tiktok/trend?from={start}&bucket=5m&country=br").json()
    first = br["buckets"][0]["t"]
    rows = MinuteCount.objects.filter(service__slug="tiktok", minute__gte=first)
    assert br["country"] == "BR"
    assert sum(b["reports"] for b in br["buckets"]) == sum(
        r.count for r in rows.filter(country="BR")
    )
    login = api.get(f"/api/v1/services/tiktok/trend?from={start}&bucket=5m&problem=login").json()
    assert sum(b["reports"] for b in login["buckets"]) == sum(
        r.count for r in rows.filter(problem="login")
    )


def test_hour_and_day_buckets_read_hour_totals(api, data):
    body = api.get("/api/v1/services/gmail/trend?bucket=1h").json()
    assert len(body["buckets"]) in (168, 169) and body["buckets"][5]["reports"] == 3
    days = api.get("/api/v1/services/gmail/trend?bucket=1d").json()
    assert days["bucket_minutes"] == 1440


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("bucket=2m", "bucket"),
        ("from=yesterday", "from"),
        ("from=2020-01-01T00:00Z&bucket=1m", "from"),  # more than 1440 buckets
        ("from=2030-01-01T00:00Z", "from"),  # after now
        ("country=XX", "country"),
        ("problem=teleport", "problem"),
        ("range=6h&bucket=5m", "range"),
        ("bucket=1d&problem=login", "problem"),  # a problem series spans ≤ 7 days
        ("from=1900-01-01T00:00Z&bucket=1d", "from"),
        ("format=xml", "format"),
    ],
)
def test_trend_errors_name_the_parameter(api, data, query, field):
    r = api.get(f"/api/v1/services/tiktok/trend?{query}")
    assert r.status_code == 400, r.content
    assert r["Content-Type"] == "application/json"
    assert field in r.json()["fields"]


def test_trend_as_csv(api, data):
    r = api.get("/api/v1/services/tiktok/trend?range=6h&format=csv")
    assert r.status_code == 200 and r["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.content.decode())))
    assert len(rows) == 72 and list(rows[0]) == [
        "t",
        "reports",
        "expected",
        "low",
        "high",
        "threshold",
        "level",
    ]


def test_heatmap_as_geojson(api, data):
    r = api.get("/api/v1/services/tiktok/heatmap?window=1h&format=geojson")
    assert r["Content-Type"] == "application/geo+json"
    body = r.json()
    assert body["type"] == "FeatureCollection"
    assert body["features"][0]["id"] == "BR" and body["features"][0]["geometry"] is None
    world = api.get("/api/v1/heatmap?format=geojson").json()
    assert {f["id"] for f in world["features"]} >= {"BR", "US"}


def test_problems_have_counts_and_shares(api, data):
    problems = api.get("/api/v1/services/tiktok/problems?window=15m").json()["problems"]
    assert problems[0]["problem"] == "playback" and problems[0]["reports"] == 45
    assert abs(sum(p["share"] for p in problems) - 1) < 0.01


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


def test_reads_carry_etag_and_answer_304(api, data):
    r = api.get("/api/v1/services/tiktok/problems?window=1h")
    assert r["Cache-Control"] == "public, no-cache" and r["ETag"]
    again = api.get("/api/v1/services/tiktok/problems?window=1h", HTTP_IF_NONE_MATCH=r["ETag"])
    assert again.status_code == 304 and again["ETag"] == r["ETag"]
    MinuteCount.objects.filter(problem="login").update(count=5)
    api.get("/api/v1/services/tiktok/problems?window=1h")  # cached for the minute
    other = api.get("/api/v1/services/tiktok/problems?window=15m", HTTP_IF_NONE_MATCH=r["ETag"])
    assert other.status_code == 200


def test_anonymous_reads_are_throttled_with_retry_after(api, data, settings):
    settings.API_THROTTLE_ANON = "3/minute"
    codes = [api.get("/api/v1/heatmap").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    r = api.get("/api/v1/heatmap")
    assert r.json()["error"] == "throttled" and 0 < int(r["Retry-After"]) <= 60


def test_token_holders_get_their_own_higher_limit(api, token_api, data, settings):
    settings.API_THROTTLE_ANON = "1/minute"
    settings.API_THROTTLE_TOKEN = "5/minute"
    assert api.get("/api/v1/heatmap").status_code == 200
    assert api.get("/api/v1/heatmap").status_code == 429
    assert [token_api.get("/api/v1/heatmap").status_code for _ in range(5)] == [200] * 5
    assert token_api.get("/api/v1/heatmap").status_code == 429


def test_report_intake_is_not_read_throttled(api, data, settings):
    settings.API_THROTTLE_ANON = "1/minute"
    for country in ("US", "BR"):
        r = api.post(
            "/api/v1/reports",
            {"service": "gmail", "problem": "login", "country": country},
            format="json",
            REMOTE_ADDR=f"10.0.0.{len(country)}",
        )
        assert r.status_code in (200, 201)


def test_a_bad_token_is_401(api, data):
    api.credentials(HTTP_AUTHORIZATION="Token nope")
    r = api.get("/api/v1/services")
    assert r.status_code == 401 and r.json()["error"] == "authentication_failed"

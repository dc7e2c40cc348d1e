"""Trends, heatmaps, problems and region lists of the read API."""

import csv
import io
from datetime import datetime, timedelta

import pytest
from django.utils import timezone
from rest_framework import serializers

from analytics.models import MinuteCount

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("name", "count", "minutes"), [("6h", 72, 5), ("24h", 96, 15), ("7d", 168, 60)]
)
def test_trend_ranges(api, data, name, count, minutes):
    body = api.get(f"/api/v1/services/tiktok/trend?range={name}").json()
    assert body["bucket_minutes"] == minutes
    assert len(body["buckets"]) == count
    assert set(body["buckets"][0]) >= {"t", "reports", "expected", "low", "high", "threshold"}


def test_bad_range_uses_the_error_shape(api, data):
    r = api.get("/api/v1/services/tiktok/trend?range=1y")
    assert r.status_code == 400
    assert r.json()["error"] == "invalid" and "range" in r.json()["fields"]


def test_unknown_service_is_404_in_the_error_shape(api, data):
    r = api.get("/api/v1/services/nope/trend")
    assert r.status_code == 404 and r.json()["error"] == "not_found"


def test_heatmaps(api, data):
    world = api.get("/api/v1/heatmap?window=1h").json()
    assert {r["code"] for r in world["regions"]} >= {"BR", "US"}
    body = api.get("/api/v1/services/tiktok/heatmap?window=1h").json()
    assert body["regions"][0] == {
        "code": "BR",
        "name": "Brazil",
        "reports": 60,
        "expected": body["regions"][0]["expected"],
        "ratio": body["regions"][0]["ratio"],
        "level": "country",
    }
    states = api.get("/api/v1/services/tiktok/heatmap?level=subdivision&country=us").json()
    assert states["country"] == "US" and states["regions"][0]["code"] == "US-CA"


def test_subdivision_heatmap_needs_a_country(api, data):
    r = api.get("/api/v1/services/tiktok/heatmap?level=subdivision")
    assert r.status_code == 400 and "country" in r.json()["fields"]


def test_problems_and_open_outages_and_regions(api, data):
    problems = api.get("/api/v1/services/tiktok/problems?window=15m").json()["problems"]
    assert problems[0] == {
        "problem": "playback",
        "name": "Playback / streaming",
        "reports": 45,
        "share": 0.75,
    }
    outages = api.get("/api/v1/outages/open").json()["outages"]
    assert [o["service"] for o in outages] == ["tiktok"]
    services = api.get("/api/v1/regions/BR/services").json()["services"]
    assert services[0]["slug"] == "tiktok" and services[0]["level"] == "outage"
    assert api.get("/api/v1/regions/XX/services").status_code == 400


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

import pytest

from tests.outages import pagedata

pytestmark = pytest.mark.django_db


@pytest.fixture
def data(tiktok, gmail):
    return pagedata.build(tiktok=tiktok, gmail=gmail)


def test_services_lists_levels(api, data):
    r = api.get("/api/v1/services")
    assert r.status_code == 200
    rows = {s["slug"]: s for s in r.json()["services"]}
    assert rows["tiktok"]["level"] == "outage"
    assert rows["tiktok"]["since"].endswith("Z")
    # Fields may be added, never removed or renamed: the pages' JavaScript reads these.
    assert set(rows["gmail"]) >= {
        "slug",
        "name",
        "category",
        "level",
        "since",
        "current",
        "expected",
    }


def test_service_detail_has_the_headline_and_counts(api, data):
    body = api.get("/api/v1/services/tiktok").json()
    assert body["headline"].startswith("User reports indicate problems at TikTok since")
    assert body["last_15m"] == 60
    assert len(body["open_incidents"]) == 1


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

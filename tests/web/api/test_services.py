"""GET /api/v1/services and /services/<slug>: levels, filters, the status sentence and counts."""

import pytest

pytestmark = pytest.mark.django_db


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

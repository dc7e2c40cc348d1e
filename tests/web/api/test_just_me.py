"""Is it just me: one cached answer per service, every country's reports beside everyone's."""

import pytest

pytestmark = pytest.mark.django_db


def test_just_me_gives_each_country_the_service_and_all_services(client, data):
    r = client.get("/api/v1/services/tiktok/just-me?window=1h")
    assert r.status_code == 200
    body = r.json()
    assert body["service"] == "tiktok" and body["service_name"] == "TikTok"
    assert body["level"] == "outage"
    rows = {row["country"]: row for row in body["countries"]}
    assert set(rows) >= {"BR", "US"}
    heat = client.get("/api/v1/services/tiktok/heatmap?window=1h").json()["regions"]
    world = client.get("/api/v1/heatmap?window=1h").json()["regions"]
    for region in heat:
        row = rows[region["code"]]
        assert (row["reports"], row["expected"], row["ratio"]) == (
            region["reports"],
            region["expected"],
            region["ratio"],
        )
    for region in world:
        row = rows[region["code"]]
        assert (row["all_reports"], row["all_ratio"]) == (region["reports"], region["ratio"])
    assert rows["BR"]["name"] == "Brazil"
    assert rows["BR"]["ratio"] >= 2  # the page data's spike
    assert rows["BR"]["all_reports"] >= rows["BR"]["reports"]


def test_just_me_refuses_bad_input_by_name(client, data):
    assert client.get("/api/v1/services/nope/just-me").status_code == 404
    r = client.get("/api/v1/services/tiktok/just-me?window=5y")
    assert r.status_code == 400
    assert "window" in r.content.decode()

"""Recoveries by region on the maps: the heatmap reads that draw them, and the pages' list that
says the same in words, while an incident is open and within its scope."""

from datetime import timedelta
from itertools import count

import pytest
from django.utils import timezone

from outages.models import Incident, Level
from reports.models import Recovery

pytestmark = pytest.mark.django_db

_clients = count()


def recover(service, country, *, subdivision="", minutes_ago=1, counted=True):
    return Recovery.objects.create(
        service=service,
        country=country,
        subdivision=subdivision,
        created_at=timezone.now() - timedelta(minutes=minutes_ago),
        source="web",
        client_key=f"client-{next(_clients)}",
        counted=counted,
    )


@pytest.fixture
def recoveries(data, tiktok):
    """TikTok's open incident (worldwide, 20 minutes old in the page data): three people in
    Brazil (two in São Paulo) and one in California say it works again; one more in Brazil
    over its address's cap, and one from before the incident began, count for nothing."""
    recover(tiktok, "BR", subdivision="BR-SP")
    recover(tiktok, "BR", subdivision="BR-SP")
    recover(tiktok, "BR")
    recover(tiktok, "US", subdivision="US-CA")
    recover(tiktok, "BR", counted=False)
    recover(tiktok, "BR", minutes_ago=90)


def test_the_world_heatmap_says_where_it_works_again_per_service(api, recoveries):
    body = api.get("/api/v1/heatmap?window=1h").json()
    assert body["recoveries"] == [
        {
            "code": "BR",
            "name": "Brazil",
            "count": 3,
            "level": "country",
            "services": [{"slug": "tiktok", "name": "TikTok", "count": 3}],
        },
        {
            "code": "US",
            "name": "United States",
            "count": 1,
            "level": "country",
            "services": [{"slug": "tiktok", "name": "TikTok", "count": 1}],
        },
    ]
    # Recoveries are no reports: the regions' counts are what they were.
    assert {r["code"]: r["reports"] for r in body["regions"]}["BR"] == 60


def test_a_services_heatmap_has_its_recoveries_by_country_and_by_state(api, recoveries):
    world = api.get("/api/v1/services/tiktok/heatmap?window=1h").json()
    assert [(r["code"], r["count"]) for r in world["recoveries"]] == [("BR", 3), ("US", 1)]
    states = api.get("/api/v1/services/tiktok/heatmap?level=subdivision&country=US").json()
    assert states["recoveries"] == [
        {"code": "US-CA", "name": "California", "count": 1, "level": "subdivision"}
    ]
    assert api.get("/api/v1/services/gmail/heatmap").json()["recoveries"] == []


def test_names_follow_the_requests_language(api, recoveries):
    body = api.get("/api/v1/heatmap?lang=de").json()
    assert [r["name"] for r in body["recoveries"]] == ["Brasilien", "Vereinigte Staaten"]


def test_a_country_incident_counts_only_its_countrys_recoveries(api, data, gmail):
    Incident.objects.create(
        service=gmail,
        country="US",
        level=Level.OUTAGE,
        max_level=Level.OUTAGE,
        started_at=timezone.now() - timedelta(minutes=10),
        peak_at=timezone.now(),
        peak_reports=5,
        peak_expected=0.1,
    )
    recover(gmail, "US")
    recover(gmail, "FR")
    recover(gmail, "US", minutes_ago=30)  # before it began
    body = api.get("/api/v1/heatmap").json()
    assert [(r["code"], r["count"]) for r in body["recoveries"]] == [("US", 1)]


def test_once_the_incident_is_over_the_map_shows_none(api, client, recoveries, tiktok):
    Incident.objects.filter(service=tiktok, ended_at=None).update(ended_at=timezone.now())
    assert api.get("/api/v1/heatmap").json()["recoveries"] == []
    assert api.get("/api/v1/services/tiktok/heatmap").json()["recoveries"] == []
    page = client.get("/map/").content.decode()
    assert 'data-region="recoveries" hidden' in page
    assert "people who say it works again" not in page
    assert 'data-region="recoveries"' not in client.get("/tiktok/").content.decode()


def test_the_pages_list_where_it_works_again_beside_the_map(client, recoveries):
    page = client.get("/map/").content.decode()
    box = page[page.index('data-region="recoveries"') : page.index("</figure>")]
    assert " hidden" not in box.split(">")[0]
    assert "Where people say it works again" in box
    assert '<a href="/region/BR/">Brazil</a>: 3 people say it works again' in box
    assert "(TikTok 3)" in box
    assert '<a href="/region/US/">United States</a>: 1 person says it works again' in box
    # The legend names the marker, not by colour alone: a check mark and a number.
    assert "people who say it works again" in page
    service = client.get("/tiktok/").content.decode()
    box = service[service.index('data-region="recoveries"') :]
    assert '<a href="/region/BR/">Brazil</a>: 3 people say it works again' in box
    assert "It works again for people in: Brazil (3), United States (1)." in service


def test_the_list_is_translated(client, recoveries):
    page = client.get("/es/map/").content.decode()
    assert "Where people say it works again" not in page
    assert '<a href="/es/region/BR/">Brasil</a>: 3 ' in page

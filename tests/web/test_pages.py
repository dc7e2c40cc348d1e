"""The site's pages, rendered by the test client from the common page data."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from outages import selectors
from reports.models import Report, Source
from web.caching import page_memo_forget

pytestmark = pytest.mark.django_db


def test_home_lists_every_service_with_its_level(client, data):
    r = client.get("/")
    body = r.content.decode()
    assert r.status_code == 200
    assert 'data-slug="tiktok"' in body and 'data-slug="gmail"' in body
    assert "level-outage" in body and "level-ok" in body
    # "Problems now" comes first and holds TikTok only.
    now_part = body.split('id="services-h"')[0]
    assert "TikTok" in now_part and "Gmail" not in now_part
    assert "<polyline" in body


def test_home_filters_by_name_and_category_without_javascript(client, data):
    body = client.get("/?q=gma").content.decode()
    assert 'data-slug="gmail"' in body and 'data-slug="tiktok"' not in body
    body = client.get("/?category=social").content.decode()
    assert 'data-slug="tiktok"' in body and 'data-slug="gmail"' not in body


def test_service_page_says_since_when_in_plain_words(client, data):
    body = client.get("/tiktok/").content.decode()
    row = selectors.service_row(slug="tiktok")
    assert row is not None
    since = row.since
    assert f"User reports indicate problems at TikTok since {since:%H:%M} UTC" in body
    assert "No current problems at Gmail" in client.get("/gmail/").content.decode()


def test_service_page_counts_reports_from_the_rollup(client, data):
    r = client.get("/tiktok/")
    # 20 minutes of 4 reports a minute; the last 15 minutes hold 60.
    assert b'data-testid="last-15m" data-region="last-15m">60<' in r.content
    # The last 24 hours: the 23 whole hours before this one from the hour totals (the
    # fixture's history: 10 an hour, plus the spike's minutes before this hour), this
    # hour's minutes from the minute counts: each of the 20 spike minutes once.
    assert r.context["last_24h"] == 23 * 10 + 4 * 20


def test_service_page_shows_problems_regions_and_incidents(client, data):
    r = client.get("/tiktok/")
    body = r.content.decode()
    assert [p.code for p in r.context["problems"]] == ["playback", "login"]
    assert "75%" in body
    assert [row.code for row in r.context["regions"]][:2] == ["BR", "US"]
    assert 'href="/region/BR/"' in body
    assert "Ongoing incident" in body and "Past incidents" in body
    assert "1 h 15 min" in body
    assert 'href="/tiktok/report"' in body


def test_the_chart_has_its_table_newest_first(client, data):
    import re

    body = client.get("/tiktok/").content.decode()
    table = body.split('data-table="trend"')[1].split("</table>")[0]
    rows = re.findall(
        r'<tr><td><time datetime="([^"]+)">[A-Z][a-z]{2} \d\d:\d\d</time></td>'
        r"<td>(\d+)</td><td>([\d.]+|—)</td><td>([\d.]+|—)</td></tr>",
        table,
    )
    # 24 hours of 15-minute buckets, the one in progress included.
    assert len(rows) in (96, 97)
    assert [r[0] for r in rows] == sorted((r[0] for r in rows), reverse=True)
    # The fixture's 20 minutes of 4 reports a minute fall within the last three buckets.
    assert sum(int(r[1]) for r in rows[:3]) == 80
    # Expected 10 an hour: 2.5 per full bucket, the outage line max(2×, +5) = 7.5.
    assert ("2.5", "7.5") in {(r[2], r[3]) for r in rows}


def test_service_page_reads_no_raw_reports_except_recent_comments(client, data, tiktok):
    Report.objects.create(
        service=tiktok,
        problem="login",
        country="US",
        comment="down",
        source=Source.WEB,
        client_key="k",
    )
    with CaptureQueriesContext(connection) as queries:
        r = client.get("/tiktok/")
    raw = [q["sql"] for q in queries.captured_queries if "reports_report" in q["sql"]]
    assert len(raw) == 1 and "LIMIT 10" in raw[0]
    assert b"down" in r.content


def test_map_and_region_pages(client, data):
    body = client.get("/map/").content.decode()
    assert 'data-map="world"' in body and "Brazil" in body and "TikTok" in body
    body = client.get("/region/br/").content.decode()
    assert "Problems reported in Brazil" in body and 'href="/tiktok/"' in body
    assert client.get("/region/XX/").status_code == 404


def test_favicon_ico_points_at_the_site_icon(client):
    r = client.get("/favicon.ico")
    assert r.status_code == 302 and r["Location"].endswith("img/favicon.svg")


def test_service_page_says_when_an_incident_is_likely_over_or_that_it_cannot(client, data, tiktok):
    from tests.incidents import history_add

    body = client.get("/tiktok/").content.decode()
    assert "When will it be back?" in body
    assert "Not enough history to say when it will be back." in body
    assert "Not enough past outages to say how long TikTok outages last." in body
    history_add(tiktok, before=data, minutes=[60 * (i + 1) for i in range(12)])
    from django.core.cache import cache

    cache.clear()  # pages are kept for the minute
    page_memo_forget()
    body = client.get("/tiktok/").content.decode()
    assert "Likely over by" in body and "for 9 in 10" in body
    # Twelve of 1..12 hours and the page data's own past incident: k = 7 and 12 of 13.
    assert "Past TikTok outages were half over within 6 hours, 9 in 10 within 12 hours" in body
    assert "(13 outages)" in body
    detail = client.get(f"/api/v1/outages/{selectors.incidents_open()[0].id}").json()
    assert detail["outlook"]["basis"] == "service"
    assert detail["outlook"]["half_by"] is not None


def test_what_works_instead_lists_same_category_services_without_problems(client, data, tiktok):
    from django.core.cache import cache

    from outages.services import service_upsert
    from tests.incidents import incident_add

    def social(slug: str, name: str):
        return service_upsert(
            slug=slug,
            name=name,
            category="social",
            home_url=f"https://{slug}.example",
            problems=["app"],
        )

    social("instagram", "Instagram")
    youtube = social("youtube", "YouTube")
    reddit = social("reddit", "Reddit")
    incident_add(reddit, started_at=data)  # problems of its own: not an alternative
    cache.clear()
    page_memo_forget()
    body = client.get("/tiktok/").content.decode()
    assert (
        'What works instead: <a href="/instagram/">Instagram</a> and '
        '<a href="/youtube/">YouTube</a> have no problems right now.'
    ) in body
    assert "Gmail" not in body.split("What works instead")[1].split("</p>")[0]  # other category
    incident_id = next(i.id for i in selectors.incidents_open() if i.service_slug == "tiktok")
    detail = client.get(f"/api/v1/outages/{incident_id}").json()
    assert [a["service"] for a in detail["alternatives"]] == ["instagram", "youtube"]
    assert detail["alternatives"][0]["url"].endswith("/api/v1/services/instagram")
    # A YouTube problem in Brazil only does not take it off the list of a worldwide incident,
    # but does for a TikTok incident in Brazil.
    incident_add(youtube, started_at=data, country="BR")
    worldwide = selectors.alternatives(service_id=tiktok.id, category="social")
    in_brazil = selectors.alternatives(service_id=tiktok.id, category="social", country="BR")
    assert [r.slug for r in worldwide] == ["instagram", "youtube"]
    assert [r.slug for r in in_brazil] == ["instagram"]

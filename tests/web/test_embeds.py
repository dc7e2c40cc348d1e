"""Status for other sites: the badge, the embeddable card and oEmbed."""

import re
import xml.etree.ElementTree as ET

import pytest
from django.conf import settings

from web.caching import page_memo_forget

pytestmark = pytest.mark.django_db

SVG = "{http://www.w3.org/2000/svg}"


def _badge(client, path):
    r = client.get(path)
    assert r.status_code == 200
    assert r["Content-Type"] == "image/svg+xml"
    assert "s-maxage" in r["Cache-Control"]  # a public page, cached per minute
    root = ET.fromstring(r.content)
    texts = [t.text for t in root.iter(f"{SVG}text")]
    return root, texts


def test_the_badge_says_the_level_in_words_with_its_colour(client, data):
    root, texts = _badge(client, "/tiktok/badge.svg")
    assert texts == ["TikTok", "problems"]
    assert root.get("aria-label") == "TikTok: problems"
    assert root.find(f"{SVG}title").text == "TikTok: problems"
    fills = [rect.get("fill") for rect in root.iter(f"{SVG}rect")]
    assert fills == ["#444444", "#c62828"]
    # 6 and 8 characters at 6.5 px plus 10 px padding each.
    assert root.get("width") == str(round(6 * 6.5 + 10) + round(8 * 6.5 + 10))
    _, texts = _badge(client, "/gmail/badge.svg")
    assert texts == ["Gmail", "no problems"]


def test_the_badge_has_a_country_variant(client, data, tiktok):
    from outages.models import Incident, Level
    from tests.incidents import incident_add

    _, texts = _badge(client, "/tiktok/badge.svg?country=FR")
    assert texts == ["TikTok in France", "problems"]  # a worldwide incident is there too
    Incident.objects.filter(service=tiktok).update(ended_at=data)  # the worldwide one is over
    incident_add(tiktok, started_at=data, country="BR", level=Level.POSSIBLE)
    from django.core.cache import cache

    cache.clear()
    page_memo_forget()
    _, texts = _badge(client, "/tiktok/badge.svg?country=br")
    assert texts == ["TikTok in Brazil", "possible problems"]
    _, texts = _badge(client, "/tiktok/badge.svg?country=FR")
    assert texts == ["TikTok in France", "no problems"]
    r = client.get("/tiktok/badge.svg?country=ZZ")
    assert r.status_code == 400 and b"country" in r.content
    assert client.get("/nope/badge.svg").status_code == 404


def test_the_card_may_be_framed_by_anyone_and_the_rest_of_the_site_by_no_one(client, data):
    r = client.get("/tiktok/embed/")
    assert r.status_code == 200
    assert "X-Frame-Options" not in r
    assert "frame-ancestors *" in r["Content-Security-Policy"]
    body = r.content.decode()
    assert "User reports indicate problems at TikTok" in body
    assert f'href="{settings.SITE_URL}/tiktok/"' in body
    assert "<script" not in body  # nothing runs inside another site's page
    page = client.get("/tiktok/")
    assert page["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in page["Content-Security-Policy"]
    # The snippets the service page offers point at the card and the one-line script.
    html = page.content.decode()
    assert f"{settings.SITE_URL}/tiktok/embed/" in html
    assert f"{settings.SITE_URL}/static/js/embed.js" in html
    assert re.search(r'<img src="/tiktok/badge.svg" alt="TikTok status badge" width="\d+"', html)


def test_oembed_describes_a_service_page_as_a_rich_card(client, data):
    url = f"{settings.SITE_URL}/tiktok/"
    r = client.get("/oembed", {"url": url})
    assert r.status_code == 200
    body = r.json()
    assert body["type"] == "rich" and body["version"] == "1.0"
    assert body["title"] == "TikTok status"
    assert (body["width"], body["height"]) == (360, 190)
    assert f'src="{settings.SITE_URL}/tiktok/embed/"' in body["html"]
    assert client.get("/oembed", {"url": "https://elsewhere.example/tiktok/"}).status_code == 404
    assert client.get("/oembed", {"url": f"{settings.SITE_URL}/map/"}).status_code == 404
    assert client.get("/oembed", {"url": url, "format": "xml"}).status_code == 501


def test_a_shared_service_link_says_the_status_in_words(client, data):
    from html.parser import HTMLParser

    class Meta(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.meta: dict[str, str] = {}
            self.oembed = ""

        def handle_starttag(self, tag, attrs):
            a = dict(attrs)
            if tag == "meta" and ("property" in a or "name" in a):
                self.meta[a.get("property") or a["name"]] = a.get("content", "")
            if tag == "link" and a.get("type") == "application/json+oembed":
                self.oembed = a["href"]

    parser = Meta()
    parser.feed(client.get("/tiktok/").content.decode())
    title = parser.meta["og:title"]
    assert title.startswith("User reports indicate problems at TikTok since ")
    assert title.endswith(" UTC")
    assert parser.meta["twitter:title"] == title
    assert parser.meta["twitter:card"] == "summary"
    assert parser.meta["og:url"] == f"{settings.SITE_URL}/tiktok/"
    assert parser.meta["og:site_name"] == settings.SITE_NAME
    # The oEmbed link it advertises answers with the card.
    path = parser.oembed.removeprefix(settings.SITE_URL)
    assert client.get(path).json()["html"].startswith("<iframe")
    parser = Meta()
    parser.feed(client.get("/gmail/").content.decode())
    assert parser.meta["og:title"] == "No current problems at Gmail"

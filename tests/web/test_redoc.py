"""The Redoc page loads nothing from another host: its script is the sidecar's bundle less the
logo that Redocly's CDN would serve (web/redoc.py); tests/browser/test_pages.py watches the
page's requests in a browser."""

import re
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders

from web.redoc import SIDECAR_BUNDLE

pytestmark = pytest.mark.django_db


def script_of(page: str) -> str:
    found = re.findall(r'<script src="([^"]+)"', page)
    assert len(found) == 1, found
    return found[0]


def test_the_redoc_page_loads_its_script_from_this_site_without_the_cdn_logo(client):
    page = client.get("/api/v1/redoc").content.decode()
    assert "cdn" not in page.lower()
    src = script_of(page)
    assert src.startswith("/")  # this site
    r = client.get(src)
    assert r.status_code == 200
    assert r["Content-Type"].startswith("text/javascript")
    script = r.content.decode()
    original = Path(str(finders.find(SIDECAR_BUNDLE))).read_text(encoding="utf-8")
    assert "https://cdn.redoc.ly/redoc/logo-mini.svg" in original
    assert "cdn.redoc.ly" not in script and "redocly logo" not in script
    # Only the logo's element is gone: the link to Redocly, as text, and the rest are kept.
    assert "API docs by Redocly" in script
    assert len(original) - len(script) < 200


def test_the_script_is_revalidated_by_its_etag(client):
    src = script_of(client.get("/api/v1/redoc").content.decode())
    first = client.get(src)
    assert first["ETag"] and "max-age" in first["Cache-Control"]
    again = client.get(src, HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304 and again.content == b""

"""The installable app's answers: the manifest, the service worker script, and the service
page that links them (and the alerts) while staying the same for everyone."""

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.django_db

STATIC = Path(__file__).resolve().parents[2] / "static"


def test_the_manifest_names_the_app_and_icons_the_app_serves(client):
    r = client.get("/manifest.webmanifest")
    assert r.status_code == 200 and r["Content-Type"] == "application/manifest+json"
    manifest = json.loads(r.content)
    assert (manifest["name"], manifest["start_url"], manifest["display"]) == (
        "Outage Radar",
        "/",
        "standalone",
    )
    sizes = {}
    for icon in manifest["icons"]:
        assert icon["src"].startswith("/static/img/"), icon  # no other site's files
        # The test client serves no static files (no collectstatic): the file must exist.
        assert (STATIC / icon["src"].removeprefix("/static/")).is_file(), icon
        if icon["type"] == "image/png":
            png = (STATIC / icon["src"].removeprefix("/static/")).read_bytes()
            width, height = int.from_bytes(png[16:20]), int.from_bytes(png[20:24])
            sizes[icon.get("purpose", "any"), icon["sizes"]] = (width, height)
    assert sizes == {
        ("any", "192x192"): (192, 192),
        ("any", "512x512"): (512, 512),
        ("maskable", "512x512"): (512, 512),
    }


def test_the_service_worker_is_served_from_the_root_and_always_checked(client):
    r = client.get("/sw.js")
    assert r.status_code == 200
    assert r["Content-Type"] == "text/javascript; charset=utf-8"
    assert r["Cache-Control"] == "no-cache"
    script = r.content.decode()
    precache = json.loads(script.split("var PRECACHE = ", 1)[1].split(";\n", 1)[0])
    assert precache[0] == "/offline/" and "/static/css/site.css" in precache
    assert client.get(precache[0]).status_code == 200
    for path in precache[1:]:
        assert (STATIC / path.removeprefix("/static/")).is_file(), path


def test_the_service_page_links_the_app_and_the_alerts_and_stays_impersonal(client, data):
    r = client.get("/tiktok/")
    page = r.content.decode()
    assert '<link rel="manifest" href="/manifest.webmanifest">' in page
    assert 'href="/tiktok/alerts/"' in page and "/static/js/app.js" in page
    assert "csrfmiddlewaretoken" not in page and not r.cookies
    # The offline note is there for the service worker's copy, hidden otherwise.
    assert 'class="offline-note" data-offline-note' in page


def test_the_offline_page_is_public_and_the_alert_form_is_not(client, tiktok):
    offline = client.get("/offline/")
    assert offline.status_code == 200 and offline["Cache-Control"].startswith("public")
    form = client.get("/tiktok/alerts/")
    assert "no-store" in form["Cache-Control"] and "private" in form["Cache-Control"]
    assert "csrfmiddlewaretoken" in form.content.decode()

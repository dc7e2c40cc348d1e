"""The static files as production serves them: collected with the site's storage (minified,
hashed, compressed) and served by WhiteNoise under names a browser keeps for good; the scripts'
words likewise, at a URL that names their content."""

import gzip
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client, override_settings

pytestmark = pytest.mark.django_db

SOURCES = Path(__file__).resolve().parents[2] / "static"
STORAGE = {"BACKEND": "common.staticfiles.MinifiedManifestStaticFilesStorage"}


@pytest.fixture(scope="module")
def collected(tmp_path_factory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("static")
    with override_settings(STATIC_ROOT=root, STORAGES={"staticfiles": STORAGE}):
        call_command("collectstatic", interactive=False, verbosity=0)
    yield root


@pytest.fixture
def served(settings, collected) -> Client:
    settings.STATIC_ROOT = collected
    settings.STORAGES = {**settings.STORAGES, "staticfiles": STORAGE}
    # A new client builds the middleware anew: WhiteNoise reads STATIC_ROOT when it starts.
    return Client()


def page_assets(body: str) -> list[str]:
    return re.findall(r'(?:src|href)="(/static/(?:js|css)/[^"]+)"', body)


def test_pages_name_hashed_scripts_and_stylesheets(served, data):
    names = page_assets(served.get("/tiktok/").content.decode())
    assert {Path(n).name.split(".")[0] for n in names} >= {"site", "app", "pages"}
    for name in names:
        assert re.search(r"\.[0-9a-f]{12}\.(js|css)$", name), name


@pytest.mark.parametrize("source", ["js/pages.js", "js/app.js", "css/site.css"])
def test_own_scripts_and_stylesheets_are_served_minified_and_kept_for_good(served, data, source):
    stem, ext = source.rsplit(".", 1)
    [url] = [n for n in page_assets(served.get("/tiktok/").content.decode()) if stem in n]
    r = served.get(url, HTTP_ACCEPT_ENCODING="gzip")
    assert r.status_code == 200
    assert "immutable" in r["Cache-Control"]
    max_age = re.search(r"max-age=(\d+)", r["Cache-Control"])
    assert max_age and int(max_age[1]) >= 365 * 24 * 3600
    body = gzip.decompress(b"".join(r.streaming_content)).decode()
    original = (SOURCES / source).read_text()
    # The sources' comments and indentation are gone: well under the source's size.
    assert len(body) < 0.8 * len(original), (len(body), len(original))
    assert "\n  " not in body and "// " not in body and "/* " not in body


def test_vendored_files_are_collected_as_shipped(collected):
    shipped = (SOURCES / "vendor/maps/world.json").read_bytes()
    assert next((collected / "vendor/maps").glob("world.*.json")).read_bytes() == shipped


@pytest.mark.parametrize("prefix", ["", "/ja"])
def test_the_scripts_words_are_at_a_url_that_names_them(client, data, prefix):
    body = client.get(f"{prefix}/tiktok/").content.decode()
    [url] = re.findall(r'src="([^"]*/jsi18n/[^"]+)"', body)
    assert re.fullmatch(rf"{prefix}/jsi18n/[0-9a-f]{{12}}\.js", url), url
    r = client.get(url)
    assert r.status_code == 200 and "javascript" in r["Content-Type"]
    assert r["Cache-Control"] == "public, max-age=31536000, immutable"
    # The same words at an older version's URL, kept only briefly: a page stored before a
    # release still has its words, and the next page asks for the new ones.
    old = client.get(f"{prefix}/jsi18n/000000000000.js")
    assert old.content == r.content and old["Cache-Control"] == "public, max-age=3600"
    other = "/ja" if not prefix else ""
    assert client.get(f"{other}/tiktok/").content.decode().count(url) == 0

"""Languages: a page's URL decides its language (English unprefixed, /es/, /pt-br/, ...);
an unprefixed page sends a visitor whose switcher choice or browser asks for another one to
that language's URL; the page says its language and its alternates; the read API is English
unless asked (?lang=); dates and numbers are written each language's way."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from web.caching import page_variant

pytestmark = pytest.mark.django_db

LANGS = ["en", "es", "pt-BR", "fr", "de", "ja", "hi"]


@pytest.fixture(autouse=True)
def _one_minute(monkeypatch):
    frozen = timezone.now()
    monkeypatch.setattr(timezone, "now", lambda: frozen)


def html_lang(body: str) -> str:
    match = re.search(r'<html lang="([^"]+)"', body)
    assert match is not None
    return match.group(1)


def test_an_unprefixed_page_is_english_for_a_browser_that_asks_for_nothing_else(client, data):
    r = client.get("/tiktok/")
    assert r.status_code == 200
    assert html_lang(r.content.decode()) == "en"
    assert r["Content-Language"] == "en"
    # It would have redirected another browser: shared caches must keep the two apart.
    assert "Accept-Language" in r["Vary"] and "Cookie" in r["Vary"]


@pytest.mark.parametrize(
    ("accept", "target"),
    [
        ("ja,en;q=0.5", "/ja/tiktok/"),
        ("pt-BR,pt;q=0.9", "/pt-br/tiktok/"),
        ("es-MX", "/es/tiktok/"),
        ("de-AT,de;q=0.9,en;q=0.1", "/de/tiktok/"),
    ],
)
def test_a_browser_asking_for_a_site_language_is_sent_to_its_url(client, data, accept, target):
    r = client.get("/tiktok/", HTTP_ACCEPT_LANGUAGE=accept)
    assert r.status_code == 302 and r["Location"] == target
    assert "Accept-Language" in r["Vary"] and "Cookie" in r["Vary"]
    assert r["Cache-Control"] == "private, max-age=0"


def test_the_query_goes_along_and_an_unknown_language_stays_english(client, data):
    r = client.get("/?q=tik&category=social", HTTP_ACCEPT_LANGUAGE="fr-CA")
    assert r["Location"] == "/fr/?q=tik&category=social"
    assert client.get("/", HTTP_ACCEPT_LANGUAGE="sw,tlh").status_code == 200
    # The browser's first language decides, as nginx's cache key does (docker/nginx).
    assert client.get("/", HTTP_ACCEPT_LANGUAGE="sw,ja;q=0.9").status_code == 200
    assert client.get("/", HTTP_ACCEPT_LANGUAGE="pt-PT").headers["Location"] == "/pt-br/"
    # A cookie naming no site language is no choice.
    client.cookies["or_lang"] = "tlh"
    assert client.get("/", HTTP_ACCEPT_LANGUAGE="de").headers["Location"] == "/de/"


def test_the_switchers_choice_beats_the_browser(client, data):
    r = client.get("/language/en/?next=/ja/tiktok/")
    assert r.status_code == 302 and r["Location"] == "/tiktok/"
    assert r.cookies["or_lang"].value == "en"
    # Now a Japanese browser that chose English stays on the English page.
    assert client.get("/tiktok/", HTTP_ACCEPT_LANGUAGE="ja").status_code == 200
    r = client.get("/language/hi/?next=/tiktok/")
    assert r["Location"] == "/hi/tiktok/"
    assert client.get("/tiktok/", HTTP_ACCEPT_LANGUAGE="en").headers["Location"] == "/hi/tiktok/"


def test_the_switcher_goes_nowhere_but_this_site(client, data):
    assert client.get("/language/es/?next=https://evil.example/").headers["Location"] == "/es/"
    assert client.get("/language/xx/?next=/").status_code == 400


@pytest.mark.parametrize("lang", LANGS)
def test_every_language_has_its_page_its_lang_and_its_alternates(client, data, lang):
    prefix = "" if lang == "en" else "/" + lang.lower()
    r = client.get(prefix + "/tiktok/")
    assert r.status_code == 200
    body = r.content.decode()
    assert html_lang(body) == lang
    assert r["Content-Language"] == lang
    # A prefixed page is the same for everyone who asks for it.
    if lang != "en":
        assert "Accept-Language" not in r.get("Vary", "")
    links = re.findall(r'<link rel="alternate" hreflang="([^"]+)" href="([^"]+)">', body)
    assert links == [
        ("en", "/tiktok/"),
        ("es", "/es/tiktok/"),
        ("pt-BR", "/pt-br/tiktok/"),
        ("fr", "/fr/tiktok/"),
        ("de", "/de/tiktok/"),
        ("ja", "/ja/tiktok/"),
        ("hi", "/hi/tiktok/"),
        ("x-default", "/tiktok/"),
    ]
    # The switcher: each language named in itself, the current one marked.
    assert re.search(r'lang="ja" hreflang="ja"( aria-current="page")?>日本語</a>', body)
    assert re.search(rf'lang="{lang}" hreflang="{lang}" aria-current="page"', body)


def test_the_service_page_speaks_the_language_of_its_url(client, data):
    es = client.get("/es/tiktok/").content.decode()
    assert "Los reportes de usuarios indican problemas en TikTok desde las " in es
    assert "Reportar un problema con TikTok" in es
    assert 'href="/es/tiktok/report"' in es
    # Problem names and categories from the catalogue, country names from iso-codes.
    assert "Reproducción / streaming" in es and "Redes sociales" in es
    ja = client.get("/ja/tiktok/").content.decode()
    assert "ユーザーの報告によると" in ja and "ブラジル" in ja
    hi = client.get("/hi/tiktok/").content.decode()
    assert "उपयोगकर्ताओं की रिपोर्टें" in hi


def test_dates_and_numbers_are_written_the_languages_way(client, data):
    de = client.get("/de/region/BR/").content.decode()
    # Decimal comma in German, point in English, for the same ratio.
    en = client.get("/region/BR/").content.decode()
    en_ratios = re.findall(r'data-label="Relative to usual">([\d.,]+)×', en)
    de_ratios = re.findall(r'data-label="Im Vergleich zum Üblichen">([\d.,]+)×', de)
    assert en_ratios and [r.replace(".", ",") for r in en_ratios] == de_ratios
    assert "Brasilien" in de
    # The chart's table: weekday names in the language.
    fr = client.get("/fr/tiktok/").content.decode()
    day = timezone.now().strftime("%a")
    french = {"Mon": "lun", "Tue": "mar", "Wed": "mer", "Thu": "jeu", "Fri": "ven"}
    french |= {"Sat": "sam", "Sun": "dim"}
    assert re.search(rf"<time datetime=\"[^\"]+\">{french[day]}\.? \d\d:\d\d</time>", fr)


def test_each_language_is_its_own_cached_variant(client, data):
    english, spanish = client.get("/tiktok/"), client.get("/es/tiktok/")
    assert english["ETag"] != spanish["ETag"]
    with CaptureQueriesContext(connection) as queries:
        again = client.get("/es/tiktok/")
    assert len(queries) == 0 and again.content == spanish.content
    assert client.get("/es/tiktok/", HTTP_IF_NONE_MATCH=spanish["ETag"]).status_code == 304


def test_the_language_is_part_of_the_cache_variant(rf):
    from django.utils import translation

    request = rf.get("/tiktok/")
    with translation.override("en"):
        english = page_variant(request)
    with translation.override("ja"):
        japanese = page_variant(request)
    assert english != japanese


def test_the_read_api_is_english_and_takes_lang(api, data):
    r = api.get("/api/v1/services/tiktok", HTTP_ACCEPT_LANGUAGE="ja")
    assert r.json()["headline"].startswith("User reports indicate problems at TikTok")
    assert "Accept-Language" not in r.get("Vary", "")
    es = api.get("/api/v1/services/tiktok?lang=es").json()
    assert es["headline"].startswith("Los reportes de usuarios indican problemas en TikTok")
    assert es["category"] == "social" and es["category_label"] == "Redes sociales"
    problems = api.get("/api/v1/services/tiktok/problems?window=1h&lang=de").json()["problems"]
    assert {p["problem"]: p["name"] for p in problems}["playback"] == "Wiedergabe / Streaming"
    bad = api.get("/api/v1/services/tiktok?lang=xx")
    assert bad.status_code == 400 and "lang" in bad.json()["fields"]


def test_the_javascript_catalogue_is_a_script_of_its_language(client):
    r = client.get("/ja/jsi18n/0.js")
    assert r.status_code == 200 and "javascript" in r["Content-Type"]
    assert "\\u554f\\u984c\\u306a\\u3057" in r.content.decode()  # 問題なし
    english = client.get("/jsi18n/0.js")
    assert english.status_code == 200 and "\\u554f" not in english.content.decode()


def test_the_sitemap_lists_every_language_with_its_alternates(client, data):
    body = client.get("/sitemap.xml").content.decode()
    assert "<loc>http://testserver/es/tiktok/</loc>" in body
    assert 'hreflang="pt-br" href="http://testserver/pt-br/tiktok/"' in body
    assert 'hreflang="x-default" href="http://testserver/tiktok/"' in body
    assert "<loc>http://testserver/api/v1/docs</loc>" in body


def test_the_report_form_is_translated_and_its_errors_too(client, tiktok):
    body = client.get("/fr/tiktok/report").content.decode()
    assert "Qu’est-ce qui ne va pas ?" in body and "Envoyer le signalement" in body
    r = client.post(
        "/fr/tiktok/report", {"problem": "login", "country": "BR", "subdivision": "US-CA"}
    )
    assert r.status_code == 400
    assert "La subdivision « US-CA » n’est pas dans le pays « BR »." in r.content.decode()
    recovery = client.get("/es/tiktok/works-again").content.decode()
    assert "¿Ya te funciona TikTok?" in recovery and 'lang="es"' in recovery
    names = client.get("/regions/DE.json?lang=ja").json()["subdivisions"]
    assert "バイエルン" in {s["name"] for s in names}


def test_oembed_knows_a_service_page_in_any_language(client, data):
    r = client.get("/oembed", {"url": "/es/tiktok/"})
    assert r.status_code == 200 and r.json()["type"] == "rich"
    assert client.get("/oembed", {"url": "/es/map/"}).status_code == 404


def test_hindi_groups_numbers_as_india_does():
    from django.utils import translation
    from django.utils.formats import number_format

    with translation.override("hi"):
        assert number_format(1234567, force_grouping=True) == "12,34,567"
    with translation.override("de"):
        assert number_format(1234567, force_grouping=True) == "1.234.567"
    with translation.override("en"):
        assert number_format(1234567.5, 1, force_grouping=True) == "1,234,567.5"

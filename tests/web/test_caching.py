"""Whole pages and reads are computed once per minute and detection pass: a second visitor
costs no query, a pass that opens an incident shows on the next response, errors are never
kept, and the HTTP headers let proxies keep the page to the end of its minute."""

import threading
import time
from datetime import UTC, datetime

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from common.cache import STAMPEDE_WAIT, cached, detection_pass_id, detection_pass_mark
from outages.services import service_upsert
from tests.analytics.test_detection_run import burst, run, steady_history
from web import caching
from web.caching import cache_control

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _one_minute(monkeypatch):
    # Cached variants are kept per minute: a test must not straddle two of them.
    frozen = timezone.now()
    monkeypatch.setattr(timezone, "now", lambda: frozen)


PAGES = ["/", "/tiktok/", "/map/", "/region/BR/", "/api/v1/outages.atom"]
READS = [
    "/api/v1/services",
    "/api/v1/services/tiktok",
    "/api/v1/services/tiktok/trend?range=6h",
    "/api/v1/services/tiktok/heatmap?window=1h",
    "/api/v1/heatmap",
    "/api/v1/outages/open",
    "/api/v1/outages",
    "/api/v1/regions/BR/services",
]


@pytest.mark.parametrize("path", PAGES)
def test_a_second_visitor_of_a_page_costs_no_query(client, data, path):
    first = client.get(path)
    assert first.status_code == 200
    with CaptureQueriesContext(connection) as queries:
        second = client.get(path)
    assert second.status_code == 200 and second.content == first.content
    assert len(queries) == 0
    assert second["ETag"] == first["ETag"]
    assert "Set-Cookie" not in second
    # An unprefixed page would have sent a visitor who chose another language elsewhere
    # (web/languages.py): it varies on the choice, nothing else personal. The feed does not.
    vary = {v.strip() for v in second.get("Vary", "").split(",")}
    if path.startswith("/api/"):
        assert not vary & {"Cookie", "Accept-Language"}
    else:
        assert vary >= {"Cookie", "Accept-Language"}


@pytest.mark.parametrize("path", READS)
def test_a_second_client_of_a_read_costs_no_query(api, data, path):
    first = api.get(path)
    assert first.status_code == 200
    with CaptureQueriesContext(connection) as queries:
        second = api.get(path)
    assert second.content == first.content and second["ETag"] == first["ETag"]
    assert len(queries) == 0


def test_variants_are_kept_apart(api, client, data):
    assert api.get("/api/v1/outages?format=csv")["Content-Type"].startswith("text/csv")
    assert api.get("/api/v1/outages")["Content-Type"] == "application/json"
    assert api.get("/api/v1/outages", HTTP_ACCEPT="text/csv")["Content-Type"].startswith("text/csv")
    everything = client.get("/").content.decode()
    email = client.get("/?category=email_productivity").content.decode()
    assert "TikTok" in everything and "TikTok" not in email.split("All services")[-1]
    # The same query in another order is the same page.
    a = client.get("/?category=social&q=tik")
    b = client.get("/?q=tik&category=social")
    assert a.content == b.content


def test_errors_are_not_kept(api, data, client):
    assert api.get("/api/v1/services/tiktok/trend?range=1y").status_code == 400
    assert api.get("/api/v1/services/nope").status_code == 404
    assert client.get("/nope/").status_code == 404
    service_upsert(
        slug="nope",
        name="Nope",
        category="social",
        home_url="https://nope.example",
        problems=["other"],
    )
    assert api.get("/api/v1/services/nope").status_code == 200
    assert client.get("/nope/").status_code == 200


def test_a_page_answers_if_none_match_and_if_modified_since_with_304(client, data):
    first = client.get("/tiktok/")
    assert client.get("/tiktok/", HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304
    since = client.get("/tiktok/", HTTP_IF_MODIFIED_SINCE=first["Last-Modified"])
    assert since.status_code == 304
    # The 304 carries the page's caching rules (s-maxage counts down with the clock).
    assert since["Cache-Control"].startswith("public, max-age=0, s-maxage=")
    assert since["Cache-Control"].endswith("stale-while-revalidate=30, stale-if-error=600")
    assert client.get("/tiktok/", HTTP_IF_NONE_MATCH='"other"').status_code == 200


@pytest.mark.parametrize(("second", "shared"), [(0, 60), (1, 59), (45, 15), (59, 1)])
def test_shared_caches_keep_a_page_to_the_end_of_its_minute(second, shared):
    now = datetime(2026, 12, 1, 9, 30, second, 500_000, tzinfo=UTC)
    assert cache_control(now) == (
        f"public, max-age=0, s-maxage={shared}, stale-while-revalidate=30, stale-if-error=600"
    )


def test_a_new_incident_is_on_the_cached_page_after_the_pass_that_opens_it(client, api, tiktok):
    now = timezone.now()
    steady_history(tiktok, end=now)
    run(now)
    before = client.get("/tiktok/").content.decode()
    assert "No current problems at TikTok" in before
    assert api.get("/api/v1/services/tiktok").json()["level"] == "ok"
    assert client.get("/tiktok/").content.decode() == before  # kept
    pass_before = detection_pass_id()
    # Within the lateness window, so the rerun of the same minute counts all of it.
    burst(tiktok, minutes=4, end=now)
    result = run(now)
    assert result.opened == 1 and detection_pass_id() != pass_before
    assert "User reports indicate problems at TikTok" in client.get("/tiktok/").content.decode()
    assert api.get("/api/v1/services/tiktok").json()["level"] == "outage"
    assert len(api.get("/api/v1/outages/open").json()["outages"]) == 1


def test_waiters_compute_when_the_first_request_fails_instead_of_waiting():
    calls = []
    cache.set("lock:test:failing-page", 1, 10)  # another request is computing it

    def release():
        time.sleep(0.2)
        cache.delete("lock:test:failing-page")  # ...and failed: nothing was stored

    def compute() -> str:
        calls.append(1)
        return "page"

    threading.Thread(target=release).start()
    started = time.monotonic()
    assert cached("test:failing-page", compute) == "page"
    assert calls == [1]
    assert time.monotonic() - started < STAMPEDE_WAIT


def test_other_processes_see_a_pass_within_the_memo(monkeypatch):
    from common import cache as common_cache

    cache.set(common_cache.DETECTION_PASS_KEY, "from-the-worker", None)
    assert detection_pass_id() == "from-the-worker"
    cache.set(common_cache.DETECTION_PASS_KEY, "the-next-pass", None)
    assert detection_pass_id() == "from-the-worker"  # read at most once a second
    now = time.monotonic()
    monkeypatch.setattr(common_cache.time, "monotonic", lambda: now + 1.01)
    assert detection_pass_id() == "the-next-pass"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        # Decoded with the Content-Type's UTF-7: a lone surrogate, as the search box shows it.
        ("q=%2B2AA-", "q: Surrogate characters are not allowed: U+D800."),
        ("%2B2AA-=1", "\\ud800: Surrogate characters are not allowed: U+D800."),
        ("q=a%00b", "q: Null characters are not allowed."),
    ],
)
@pytest.mark.parametrize("path", PAGES)
def test_a_page_refuses_a_parameter_it_could_not_key_or_show(client, data, path, query, message):
    r = client.get(f"{path}?{query}", headers={"content-type": "text/plain; charset=utf-7"})
    assert r.status_code == 400
    assert r.content.decode() == message + "\n"


def test_a_page_is_compressed_once_with_its_computation(client, data):
    import gzip

    plain = client.get("/tiktok/")
    packed = client.get("/tiktok/", HTTP_ACCEPT_ENCODING="gzip, deflate")
    again = client.get("/tiktok/", HTTP_ACCEPT_ENCODING="gzip")
    assert "Content-Encoding" not in plain and packed["Content-Encoding"] == "gzip"
    assert gzip.decompress(packed.content) == plain.content
    # The same bytes each time: compressed once, with no per-response padding.
    assert again.content == packed.content
    assert packed["ETag"] == plain["ETag"][:-1] + '-gzip"'
    for r in (plain, packed):
        assert "Accept-Encoding" in r["Vary"]
    revalidated = client.get(
        "/tiktok/", HTTP_ACCEPT_ENCODING="gzip", HTTP_IF_NONE_MATCH=packed["ETag"]
    )
    assert revalidated.status_code == 304
    # The plain tag does not validate the compressed representation.
    other = client.get("/tiktok/", HTTP_ACCEPT_ENCODING="gzip", HTTP_IF_NONE_MATCH=plain["ETag"])
    assert other.status_code == 200


def test_a_process_serves_its_own_copy_of_a_page_without_the_shared_cache(client, data):
    first = client.get("/tiktok/")
    assert first.status_code == 200
    cache.clear()  # the shared copy is gone, and so is the pass id
    with CaptureQueriesContext(connection) as queries:
        second = client.get("/tiktok/")
    # The process's copy, under the same key (the same minute and pass), answered: with the
    # shared copy gone, anything else would have computed the page again.
    assert len(queries) == 0
    assert second.content == first.content and second["ETag"] == first["ETag"]


def test_a_new_pass_is_a_new_key_for_the_process_copy_too(client, data):
    assert client.get("/tiktok/").status_code == 200
    detection_pass_mark(at=timezone.now())
    with CaptureQueriesContext(connection) as queries:
        again = client.get("/tiktok/")
    assert again.status_code == 200
    assert len(queries) > 0  # computed again for the new pass


def test_the_process_copy_is_bounded(client, data, monkeypatch):
    monkeypatch.setattr(caching, "PAGE_MEMO_ENTRIES", 2)
    for path in ("/", "/tiktok/", "/map/"):
        assert client.get(path).status_code == 200
    assert len(caching._page_memo) == 2
    with CaptureQueriesContext(connection) as queries:
        client.get("/map/")
    assert len(queries) == 0
    cache.clear()
    with CaptureQueriesContext(connection) as queries:
        client.get("/")  # the oldest went first
    assert len(queries) > 0

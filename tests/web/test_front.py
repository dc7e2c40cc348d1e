"""The page front (web/front.py): a public page a process has made is replayed to the next
visitor of the same variant without Django, and only where Django would have answered with
the same bytes. Requests go through the WSGI application gunicorn serves (config.wsgi)."""

import gzip
import io
import sys
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.utils import timezone

from common.cache import detection_pass_mark
from config.wsgi import application
from web import front

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _one_minute(monkeypatch):
    # Kept pages are kept per minute: a test must not straddle two of them.
    frozen = timezone.now()
    monkeypatch.setattr(timezone, "now", lambda: frozen)


@pytest.fixture(autouse=True)
def _keep_the_test_connection() -> Iterator[None]:
    # As Django's test client does: the request signals would close the test's connection,
    # which holds the test's transaction.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def call(path: str, method: str = "GET", query: str = "", **headers: str):
    environ = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "testserver",
        "REMOTE_ADDR": "203.0.113.9",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.version": (1, 0),
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        **headers,
    }
    answer: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None):
        answer["status"], answer["headers"] = status, headers

    body = application(environ, start_response)
    try:
        answer["body"] = b"".join(body)
    finally:
        close = getattr(body, "close", None)
        if close is not None:
            close()
    answer["code"] = int(answer["status"].split()[0])
    answer["h"] = {name.lower(): value for name, value in answer["headers"]}
    return answer


PAGES = ["/", "/tiktok/", "/map/", "/region/BR/", "/es/tiktok/", "/api/v1/outages.atom"]


@pytest.mark.parametrize("path", PAGES)
def test_a_kept_page_is_replayed_without_django(data, django_calls, path):
    first = call(path)
    second = call(path)
    assert first["code"] == second["code"] == 200
    assert django_calls == [path]
    assert second["body"] == first["body"]
    # The same headers (security headers, CSP, ETag, Vary...), in the same order.
    assert [n for n, _ in second["headers"]] == [n for n, _ in first["headers"]]
    for name in ("content-type", "etag", "last-modified", "vary", "content-security-policy"):
        assert second["h"].get(name) == first["h"].get(name)
    assert "set-cookie" not in second["h"]


def test_cache_control_is_made_again_for_each_replay(data, monkeypatch):
    start = timezone.now().replace(second=10, microsecond=0)
    monkeypatch.setattr(timezone, "now", lambda: start)
    first = call("/tiktok/")
    monkeypatch.setattr(timezone, "now", lambda: start.replace(second=40))
    second = call("/tiktok/")
    assert "s-maxage=50," in first["h"]["cache-control"]
    # To the end of the same minute, not the first visitor's 50 seconds.
    assert "s-maxage=20," in second["h"]["cache-control"]
    assert second["body"] == first["body"]


def test_gzip_and_plain_are_separate_variants(data, django_calls):
    plain = call("/tiktok/")
    zipped = call("/tiktok/", HTTP_ACCEPT_ENCODING="gzip, deflate")
    assert django_calls == ["/tiktok/", "/tiktok/"]
    assert "content-encoding" not in plain["h"]
    assert zipped["h"]["content-encoding"] == "gzip"
    assert gzip.decompress(zipped["body"]) == plain["body"]
    again = call("/tiktok/", HTTP_ACCEPT_ENCODING="gzip, deflate")
    assert again["body"] == zipped["body"] and len(django_calls) == 2


def test_a_visitor_who_wants_another_language_still_gets_the_redirect(data, django_calls):
    english = call("/tiktok/", HTTP_ACCEPT_LANGUAGE="en-GB,en;q=0.8")
    assert english["code"] == 200
    by_browser = call("/tiktok/", HTTP_ACCEPT_LANGUAGE="es-ES,es;q=0.9")
    by_choice = call("/tiktok/", HTTP_COOKIE="or_lang=pt-br")
    assert by_browser["code"] == by_choice["code"] == 302
    assert by_browser["h"]["location"] == "/es/tiktok/"
    assert by_choice["h"]["location"] == "/pt-br/tiktok/"
    # Another English browser is the same variant: replayed.
    call("/tiktok/", HTTP_ACCEPT_LANGUAGE="en-US")
    assert django_calls == ["/tiktok/"] * 3


def test_a_host_django_refuses_is_never_served_a_kept_page(data, django_calls, settings):
    settings.ALLOWED_HOSTS = ["testserver"]
    assert call("/tiktok/")["code"] == 200
    refused = call("/tiktok/", HTTP_HOST="evil.example")
    assert refused["code"] == 400
    assert django_calls == ["/tiktok/", "/tiktok/"]


def test_the_scheme_the_proxy_reports_is_part_of_the_variant(data, django_calls):
    # With SECURE_SSL_REDIRECT Django redirects a plain-HTTP request: a page kept for an HTTPS
    # one must not answer it (the redirect itself is tested in tests/config).
    call("/tiktok/", HTTP_X_FORWARDED_PROTO="https")
    call("/tiktok/", HTTP_X_FORWARDED_PROTO="http")
    call("/tiktok/", **{"wsgi.url_scheme": "https"})
    call("/tiktok/", HTTP_X_FORWARDED_PROTO="https")
    assert django_calls == ["/tiktok/"] * 3


@pytest.mark.parametrize(
    "headers",
    [
        {"HTTP_COOKIE": "sessionid=abc"},
        {"HTTP_COOKIE": "or_lang=en; messages=xyz"},
    ],
)
def test_personal_requests_go_to_django(data, django_calls, headers):
    call("/tiktok/")
    call("/tiktok/", **headers)
    call("/tiktok/", **headers)
    assert django_calls == ["/tiktok/"] * 3


def test_other_cookies_do_not_stop_the_replay(data, django_calls):
    call("/tiktok/")
    call("/tiktok/", HTTP_COOKIE="csrftoken=abc; or_bid=xyz; or_lang=en")
    assert django_calls == ["/tiktok/"]


def test_conditional_requests_get_django_s_304(data, django_calls):
    first = call("/tiktok/")
    revalidated = call("/tiktok/", HTTP_IF_NONE_MATCH=first["h"]["etag"])
    assert revalidated["code"] == 304 and revalidated["body"] == b""
    assert django_calls == ["/tiktok/", "/tiktok/"]


def test_head_and_post_go_to_django(data, django_calls):
    call("/tiktok/")
    call("/tiktok/", method="HEAD")
    assert call("/tiktok/", method="POST")["code"] == 403  # no CSRF token: Django's answer
    assert django_calls == ["/tiktok/"] * 3


def test_a_new_detection_pass_is_made_again(data, django_calls):
    call("/tiktok/")
    detection_pass_mark(at=timezone.now())
    call("/tiktok/")
    call("/tiktok/")
    assert django_calls == ["/tiktok/", "/tiktok/"]


def test_a_new_minute_is_made_again(data, django_calls, monkeypatch):
    start = timezone.now().replace(second=30, microsecond=0)
    monkeypatch.setattr(timezone, "now", lambda: start)
    call("/tiktok/")
    monkeypatch.setattr(timezone, "now", lambda: start.replace(second=59))
    call("/tiktok/")
    monkeypatch.setattr(timezone, "now", lambda: start + timedelta(seconds=30))
    call("/tiktok/")
    assert django_calls == ["/tiktok/", "/tiktok/"]


def test_each_query_is_its_own_variant(data, django_calls):
    everything = call("/")
    social = call("/", query="category=social")
    assert social["body"] != everything["body"]
    call("/", query="category=social")
    assert django_calls == ["/", "/"]


def test_only_public_pages_are_kept(data, django_calls):
    # A read API answer (throttled per client) and a bad query's 400 are never replayed.
    for _ in range(2):
        assert call("/api/v1/services")["code"] == 200
        assert call("/", query="q=%00")["code"] == 400
    assert django_calls == ["/api/v1/services", "/"] * 2


def test_a_response_that_sets_a_cookie_is_not_kept():
    class Page:
        front_keepable = True

    assert front._keepable(Page(), "200 OK", [("Content-Type", "text/html")])
    assert not front._keepable(Page(), "200 OK", [("Set-Cookie", "csrftoken=x")])
    assert not front._keepable(Page(), "304 Not Modified", [])
    assert not front._keepable(object(), "200 OK", [])


def test_kept_pages_are_bounded_oldest_first(data, django_calls, monkeypatch):
    monkeypatch.setattr(front, "FRONT_ENTRIES", 2)
    for path in ("/tiktok/", "/map/", "/"):
        call(path)
    call("/")  # kept
    call("/map/")  # kept
    call("/tiktok/")  # pushed out by "/": made again
    assert django_calls == ["/tiktok/", "/map/", "/", "/tiktok/"]

"""The front that compose puts before web: its configuration passes `nginx -t`, and in front
of the live app it keeps public pages (one request per page reaches the app), never keeps the
read API or a POST, and gzips."""

import gzip
import http.client
import json
import subprocess
from collections.abc import Iterator

import pytest

from bench.intake import free_port
from bench.nginx import nginx_binary, nginx_configure, nginx_start

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_configuration_passes_nginx_t(tmp_path):
    main = nginx_configure(tmp_path, upstream="127.0.0.1:8000", port=free_port())
    done = subprocess.run(
        [nginx_binary(), "-t", "-p", str(tmp_path), "-c", str(main)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "syntax is ok" in done.stderr and "test is successful" in done.stderr


@pytest.fixture
def front(tmp_path, live_server) -> Iterator[int]:
    port = free_port()
    upstream = live_server.url.removeprefix("http://")
    server = nginx_start(
        nginx_binary(), nginx_configure(tmp_path, upstream=upstream, port=port), port
    )
    try:
        yield port
    finally:
        server.terminate()
        server.wait(timeout=10)


def call(port, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    finally:
        conn.close()


def post_reports(front, n: int) -> list[tuple[int, dict[str, str]]]:
    """The same report posted n times, each claiming another address in X-Forwarded-For."""
    report = json.dumps({"service": "tiktok", "problem": "upload", "country": "BR"}).encode()
    answers = []
    for i in range(n):
        status, headers, _ = call(
            front,
            "POST",
            "/api/v1/reports",
            body=report,
            headers={"Content-Type": "application/json", "X-Forwarded-For": f"203.0.113.{i}"},
        )
        answers.append((status, headers))
    return answers


def test_public_pages_are_kept_and_the_api_and_posts_are_not(front, data, settings):
    status, headers, first = call(front, "GET", "/tiktok/")
    assert status == 200 and headers["X-Cache"] == "MISS"
    status, headers, again = call(front, "GET", "/tiktok/")
    assert status == 200 and headers["X-Cache"] == "HIT" and again == first

    for _ in range(2):
        status, headers, _ = call(front, "GET", "/api/v1/services/tiktok")
        assert status == 200 and headers["X-Cache"] != "HIT"

    settings.RATE_LIMIT_REPORTS = 100
    answers = post_reports(front, 2)
    codes = [status for status, _ in answers]
    assert all(headers.get("X-Cache") != "HIT" for _, headers in answers)
    # Both reached the app: the first is counted, the second is the same client's repeat.
    assert codes[0] == 201 and codes[1] in (200, 201)


def test_pages_are_gzipped(front, data):
    status, headers, body = call(front, "GET", "/tiktok/", headers={"Accept-Encoding": "gzip"})
    assert status == 200 and headers.get("Content-Encoding") == "gzip"
    assert b"TikTok" in gzip.decompress(body)


def test_behind_it_a_client_cannot_choose_its_own_address(front, tiktok, settings):
    # As compose runs web behind nginx: one trusted hop, the address nginx saw.
    settings.TRUSTED_PROXY_COUNT = 1
    settings.RATE_LIMIT_REPORTS = 2
    codes = [status for status, _ in post_reports(front, 3)]
    # Three made-up addresses, one client: its third request is over the limit.
    assert codes == [201, 200, 429]


def test_each_language_is_kept_apart_and_the_browsers_choice_is_in_the_key(front, data):
    # The same unprefixed URL for an English and a Japanese browser: a page and a redirect,
    # each its own copy; any English browser's header gets the English copy.
    status, headers, _ = call(front, "GET", "/tiktok/", headers={"Accept-Language": "en-US"})
    assert status == 200 and headers["X-Cache"] == "MISS"
    status, headers, _ = call(front, "GET", "/tiktok/", headers={"Accept-Language": "ja,en;q=0.1"})
    assert status == 302 and headers["Location"].endswith("/ja/tiktok/")
    status, headers, _ = call(front, "GET", "/tiktok/", headers={"Accept-Language": "en-GB,en"})
    assert status == 200 and headers["X-Cache"] == "HIT"
    # A visitor who chose Japanese by the switcher is sent there however the browser is set.
    status, headers, _ = call(front, "GET", "/tiktok/", headers={"Cookie": "or_lang=ja"})
    assert status == 302 and headers["Location"].endswith("/ja/tiktok/")
    # The prefixed page is one copy for everyone.
    status, headers, body = call(front, "GET", "/ja/tiktok/", headers={"Accept-Language": "de"})
    assert status == 200 and headers["X-Cache"] == "MISS" and b'<html lang="ja">' in body
    status, headers, _ = call(front, "GET", "/ja/tiktok/", headers={"Accept-Language": "fr"})
    assert status == 200 and headers["X-Cache"] == "HIT"

"""The page cache's variant key and its last good page pinned: what makes two requests the same
variant, and the 503 a kept page is served as (header by header, values as numbers)."""

import hashlib
import logging
from datetime import UTC, datetime

from django.test import RequestFactory
from django.utils import translation

from tests.redis import UNREACHABLE_CACHES as UNREACHABLE
from web.caching import CachedPage, _keep_last_good, last_good_page, page_variant

PAGE = CachedPage(
    content=b"<p>kept</p>",
    content_type="application/xml; charset=utf-8",  # not the default, so it must be kept
    etag='"abc"',
    minute=datetime(2026, 3, 2, 12, 7, tzinfo=UTC),
)


def get(path: str):
    return RequestFactory().get(path)


def test_the_variant_is_the_language_the_path_and_the_query_in_order():
    assert page_variant(get("/s/?b=2&a=1")) == page_variant(get("/s/?a=1&b=2"))
    assert page_variant(get("/s/?a=1")) != page_variant(get("/t/?a=1"))
    assert len(page_variant(get("/s/"))) == 40
    # The hash of the active language, the path and the sorted query, each value of a
    # repeated parameter its own (web/languages.py: the language is part of every variant).
    with translation.override("en"):
        variant = page_variant(get("/s/?b=2&a=1&a=3"))
    assert variant == hashlib.sha256(b"en:/s/?a=1&a=3&b=2").hexdigest()[:40]
    with translation.override("ja"):
        assert page_variant(get("/s/?b=2&a=1&a=3")) != variant


def test_a_kept_page_is_served_as_a_503_that_says_when_to_retry():
    request = get("/s/tiktok/")
    assert last_good_page(request) is None
    _keep_last_good(request, PAGE)
    response = last_good_page(request)
    assert response is not None
    assert response.status_code == 503
    assert response.content == b"<p>kept</p>"
    assert response["Content-Type"] == "application/xml; charset=utf-8"
    assert response["Retry-After"] == "30"
    assert response["Last-Modified"] == "Mon, 02 Mar 2026 12:07:00 GMT"
    assert response["Cache-Control"] == "no-store"
    assert last_good_page(get("/s/gmail/")) is None


def test_with_the_cache_unreachable_nothing_is_kept_or_served(settings, caplog):
    settings.CACHES = UNREACHABLE
    request = get("/s/tiktok/")
    with caplog.at_level(logging.WARNING, logger="web.caching"):
        _keep_last_good(request, PAGE)
    (record,) = caplog.records
    assert record.getMessage().startswith("could not keep the last good page: ")
    assert last_good_page(request) is None

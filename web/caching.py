"""Whole public pages computed once per minute and detection pass, not once per visitor, and
the HTTP headers that let proxies keep them too.

A page's content changes when the rollup adds a minute or a detection pass decides something:
its key names both, so an incident that a pass opens is on the next response, while the crowd
that arrives with an outage is served from one computation. Nothing personal is on these
pages (the report form, with its CSRF token, is a page of its own).

Each variant's last good page is also kept for a day: while the database is down, that page is
served with a 503 and Retry-After (it says what it said, at the time it says) rather than an
error page."""

import functools
import gzip
import hashlib
import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import urlencode

from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseBase
from django.utils import timezone, translation
from django.utils.cache import get_conditional_response, patch_vary_headers
from django.utils.http import http_date
from redis.exceptions import RedisError

from common.cache import cached, detection_pass_id, minute_key
from common.compression import carries_a_secret
from common.middleware import DATABASE_UNAVAILABLE, UNAVAILABLE_RETRY_AFTER
from common.text import query_problems
from common.time import floor_minute

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Proxies may serve a page this long past its minute while they fetch the next one, and this
# long while we cannot answer at all: during an outage of ours, yesterday's page beats none.
STALE_WHILE_REVALIDATE = 30
STALE_IF_ERROR = 600
ACCEPTS_GZIP = re.compile(r"\bgzip\b")  # as GZipMiddleware reads Accept-Encoding
# How long a variant's last good page is kept for an outage of the database (seconds).
LAST_GOOD_TTL = 24 * 3600


# The attribute that marks a response the page front (web/front.py) may keep: one made here.
FRONT_KEEPABLE = "front_keepable"

# Pages shorter than this are sent as they are (GZipMiddleware's own threshold).
GZIP_MIN_LENGTH = 200


@dataclass(frozen=True, slots=True)
class CachedPage:
    content: bytes
    content_type: str
    etag: str
    minute: datetime
    # Compressed once with the page, not once per visitor: gzip of a home page cost more CPU
    # than the rest of serving it from the cache. No length padding (GZipMiddleware's BREACH
    # measure): nothing on a public page is secret.
    gzipped: bytes | None = None


# Each process also keeps the pages it served last, under the same keys: a key names the
# minute and the detection pass, so a kept page is exactly what the shared cache holds for it,
# and serving it costs neither the round trip to Redis nor unpickling the page (a live map or
# home page is 50-100 kB) for every visitor of a flood. Bounded: the oldest goes first.
PAGE_MEMO_ENTRIES = 64
_page_memo: dict[str, CachedPage] = {}
_page_memo_lock = threading.Lock()


def keep_bounded(store: dict[str, T], lock: threading.Lock, key: str, value: T, limit: int) -> None:
    """Keep ``value`` under ``key`` in a per-process store of at most ``limit`` entries, the
    oldest out first (the page copies here, the front's responses in web/front.py)."""
    with lock:
        store[key] = value
        while len(store) > limit:
            del store[next(iter(store))]


def _memo_keep(key: str, page: CachedPage) -> None:
    keep_bounded(_page_memo, _page_memo_lock, key, page, PAGE_MEMO_ENTRIES)


def page_memo_forget() -> None:
    """Forget this process's copies of pages (after the shared cache was emptied on purpose)."""
    with _page_memo_lock:
        _page_memo.clear()


class _Uncacheable(Exception):
    def __init__(self, response: HttpResponseBase) -> None:
        self.response = response


def page_variant(request: HttpRequest) -> str:
    """The page's variant: its language, its path and its query in a canonical order, hashed
    (a path can hold anything a client sends, a cache key should not). The path's prefix
    already names the language (web/languages.py); the key says it too, so that no page can
    be kept under another language's name whatever chose the language."""
    query = urlencode(sorted(request.GET.lists()), doseq=True)
    language = translation.get_language()
    variant = f"{language}:{request.path}?{query}".encode("utf-8", "surrogatepass")
    return hashlib.sha256(variant).hexdigest()[:40]


def page_key(request: HttpRequest, now: datetime) -> str:
    """The variant at this minute and after the last detection pass."""
    return f"page:{minute_key(now)}:{detection_pass_id()}:{page_variant(request)}"


def last_good_key(request: HttpRequest) -> str:
    return f"page-last:{page_variant(request)}"


def _keep_last_good(request: HttpRequest, page: CachedPage) -> None:
    try:
        cache.set(last_good_key(request), page, LAST_GOOD_TTL)
    except (RedisError, OSError) as exc:
        logger.warning("could not keep the last good page: %s", exc)


def last_good_page(request: HttpRequest) -> HttpResponse | None:
    """The variant's last good page as a 503 with Retry-After, if one is kept."""
    try:
        page: CachedPage | None = cache.get(last_good_key(request))
    except (RedisError, OSError):
        return None
    if page is None:
        return None
    response = HttpResponse(page.content, content_type=page.content_type, status=503)
    response["Retry-After"] = str(UNAVAILABLE_RETRY_AFTER)
    response["Last-Modified"] = http_date(page.minute.timestamp())
    response["Cache-Control"] = "no-store"
    return response


def cache_control(now: datetime) -> str:
    # Browsers revalidate every time (a 304 costs next to nothing): someone who has just sent
    # a report and goes back to the page must not be shown their own stale copy. Shared
    # caches keep it to the end of the minute, when the rollup moves on.
    shared = max(60 - now.second, 1)
    return (
        f"public, max-age=0, s-maxage={shared}, "
        f"stale-while-revalidate={STALE_WHILE_REVALIDATE}, stale-if-error={STALE_IF_ERROR}"
    )


def public_page(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """Serve the view's response from the shared cache, computed by one request per variant
    (the others wait for it), with an ETag, Last-Modified and 304s."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if request.method not in ("GET", "HEAD"):
            return view(request, *args, **kwargs)
        unusable = query_problems(request.GET.lists())
        if unusable:
            # Before the cache key (and the page, which may show a search) quotes them.
            return HttpResponseBadRequest(
                "".join(f"{name}: {' '.join(m)}\n" for name, m in unusable.items()),
                content_type="text/plain; charset=utf-8",
            )
        now = timezone.now()

        def compute() -> CachedPage:
            response = view(request, *args, **kwargs)
            if (
                response.status_code != 200
                or response.streaming
                or response.cookies
                or not isinstance(response, HttpResponse)
            ):
                raise _Uncacheable(response)
            content = response.content
            computed = CachedPage(
                content=content,
                content_type=response["Content-Type"],
                etag='"' + hashlib.sha256(content).hexdigest()[:32] + '"',
                minute=floor_minute(now),
                gzipped=(
                    gzip.compress(content, compresslevel=6, mtime=0)
                    if len(content) >= GZIP_MIN_LENGTH
                    else None
                ),
            )
            _keep_last_good(request, computed)
            return computed

        key = page_key(request, now)
        page = _page_memo.get(key)
        try:
            if page is None:
                page = cached(key, compute)
                _memo_keep(key, page)
        except _Uncacheable as exc:
            return exc.response
        except DATABASE_UNAVAILABLE:
            kept = last_good_page(request)
            if kept is None:
                raise  # common.middleware answers with the plain 503 page
            logger.warning("database unavailable, serving the last good %s", request.path)
            return kept
        etag = page.etag
        if (
            page.gzipped is not None
            and ACCEPTS_GZIP.search(request.META.get("HTTP_ACCEPT_ENCODING", ""))
            and not carries_a_secret(request, HttpResponse())
        ):
            # GZipMiddleware leaves a response with a Content-Encoding alone.
            response = HttpResponse(page.gzipped, content_type=page.content_type)
            response["Content-Encoding"] = "gzip"
            etag = page.etag[:-1] + '-gzip"'  # another representation, another tag
        else:
            response = HttpResponse(page.content, content_type=page.content_type)
        patch_vary_headers(response, ("Accept-Encoding",))
        response["Cache-Control"] = cache_control(now)
        response["ETag"] = etag
        response["Last-Modified"] = http_date(page.minute.timestamp())
        conditional = get_conditional_response(
            request, etag=etag, last_modified=int(page.minute.timestamp()), response=response
        )
        if conditional is not None and conditional is not response:
            conditional["Cache-Control"] = response["Cache-Control"]
            return conditional
        # The page front (web/front.py) may keep this response for the variant's next visitors.
        setattr(response, FRONT_KEEPABLE, True)
        return response

    return wrapped

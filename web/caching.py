"""Whole public pages computed once per minute and detection pass, not once per visitor, and
the HTTP headers that let proxies keep them too.

A page's content changes when the rollup adds a minute or a detection pass decides something:
its key names both, so an incident that a pass opens is on the next response, while the crowd
that arrives with an outage is served from one computation. Nothing personal is on these
pages (the report form, with its CSRF token, is a page of its own)."""

import functools
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseBase
from django.utils import timezone
from django.utils.cache import get_conditional_response
from django.utils.http import http_date

from common.cache import cached, detection_pass_id, minute_key
from common.text import query_problems
from common.time import floor_minute

# Proxies may serve a page this long past its minute while they fetch the next one, and this
# long while we cannot answer at all: during an outage of ours, yesterday's page beats none.
STALE_WHILE_REVALIDATE = 30
STALE_IF_ERROR = 600


@dataclass(frozen=True, slots=True)
class CachedPage:
    content: bytes
    content_type: str
    etag: str
    minute: datetime


class _Uncacheable(Exception):
    def __init__(self, response: HttpResponseBase) -> None:
        self.response = response


def page_key(request: HttpRequest, now: datetime) -> str:
    """The page's variant: its path and its query in a canonical order, at this minute and
    after the last detection pass."""
    query = urlencode(sorted(request.GET.lists()), doseq=True)
    # Hashed: a path can hold anything a client sends, a cache key should not.
    variant = f"{request.path}?{query}".encode("utf-8", "surrogatepass")
    return (
        f"page:{minute_key(now)}:{detection_pass_id()}:{hashlib.sha256(variant).hexdigest()[:40]}"
    )


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
            return CachedPage(
                content=content,
                content_type=response["Content-Type"],
                etag='"' + hashlib.sha256(content).hexdigest()[:32] + '"',
                minute=floor_minute(now),
            )

        try:
            page = cached(page_key(request, now), compute)
        except _Uncacheable as exc:
            return exc.response
        response = HttpResponse(page.content, content_type=page.content_type)
        response["Cache-Control"] = cache_control(now)
        response["ETag"] = page.etag
        response["Last-Modified"] = http_date(page.minute.timestamp())
        conditional = get_conditional_response(
            request, etag=page.etag, last_modified=int(page.minute.timestamp()), response=response
        )
        if conditional is not None and conditional is not response:
            conditional["Cache-Control"] = response["Cache-Control"]
        return conditional or response

    return wrapped

"""A public page this process has already made, served before Django's middleware runs.

On an outage day thousands of visitors a minute ask for the same few pages, which
``web.caching`` makes once per minute and detection pass. Serving a kept page still ran the
whole middleware stack, URL resolution and the view's wrapper for every visitor: more than the
page itself costs, and more than the bare Django view. The front sits between the WSGI server
and Django: a response that ``public_page`` made is kept here, exactly as it left Django
(status, headers, body), and replayed to the next visitor of the same variant in the same
minute and detection pass; everything else goes to Django untouched.

A response is replayed only to a request that Django would answer with the same bytes, so the
key holds everything the middleware and the page read from a request:

* the path and the raw query (``public_page`` answers a bad query with a 400, never kept);
* the language: the path's prefix, or for an unprefixed path the visitor's choice (cookie) or
  browser, as ``web.languages`` decides; an unprefixed page for a visitor who wants another
  language is a redirect, which is not a public page's response and is never kept;
* the Host header and the scheme (``wsgi.url_scheme`` and the proxy's ``X-Forwarded-Proto``):
  a host Django refuses, or a plain-HTTP request that it would redirect, never produced a
  kept response, so it never matches one;
* whether the client takes gzip (the kept body is the encoding Django chose);
* the minute and the detection pass, as ``web.caching``'s keys name them.

Requests with a session or messages cookie, conditional requests (Django answers those with a
304 of its own) and anything but GET go to Django. A response that sets a cookie is not kept.
``Cache-Control`` is made again for each replay: its ``s-maxage`` runs to the end of the
minute."""

import hashlib
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.http.cookie import parse_cookie
from django.utils import timezone, translation

from common.cache import detection_pass_id, minute_key
from web.caching import ACCEPTS_GZIP, FRONT_KEEPABLE, cache_control, keep_bounded
from web.languages import wanted_language_from

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

# Responses kept per process: each variant of each public page for the current minute, with
# room for the minute before while the next is made. Bounded, the oldest out first: 128 of the
# largest page (the home page, about 50 kB uncompressed with the demo's services) stay under
# 7 MB of a web worker.
FRONT_ENTRIES = 128
# Cookies after which Django may answer differently than to an anonymous visitor.
PERSONAL_COOKIES = (settings.SESSION_COOKIE_NAME, "messages")


@dataclass(frozen=True, slots=True)
class Kept:
    status: str
    headers: tuple[tuple[str, str], ...]
    body: bytes


_kept: dict[str, Kept] = {}
_lock = threading.Lock()


def front_forget() -> None:
    """Forget the kept responses (after the shared cache was emptied on purpose)."""
    with _lock:
        _kept.clear()


def _keep(key: str, kept: Kept) -> None:
    keep_bounded(_kept, _lock, key, kept, FRONT_ENTRIES)


def front_key(environ: dict[str, Any]) -> str | None:
    """The variant a request asks for, or None where the front must leave it to Django."""
    if environ.get("REQUEST_METHOD") != "GET":
        return None
    if "HTTP_IF_NONE_MATCH" in environ or "HTTP_IF_MODIFIED_SINCE" in environ:
        return None
    raw_cookies = environ.get("HTTP_COOKIE", "")
    cookies = parse_cookie(raw_cookies) if raw_cookies else {}
    if any(name in cookies for name in PERSONAL_COOKIES):
        return None
    path = environ.get("PATH_INFO", "")
    language = translation.get_language_from_path(path) or wanted_language_from(
        cookies.get(settings.LANGUAGE_COOKIE_NAME, ""), environ.get("HTTP_ACCEPT_LANGUAGE", "")
    )
    gzip = bool(ACCEPTS_GZIP.search(environ.get("HTTP_ACCEPT_ENCODING", "")))
    variant = "\n".join(
        (
            environ.get("SCRIPT_NAME", ""),
            path,
            environ.get("QUERY_STRING", ""),
            language,
            environ.get("HTTP_HOST", ""),
            environ.get("wsgi.url_scheme", ""),
            environ.get("HTTP_X_FORWARDED_PROTO", ""),
            "gzip" if gzip else "",
        )
    )
    digest = hashlib.sha256(variant.encode("utf-8", "surrogatepass")).hexdigest()[:40]
    return f"{minute_key(timezone.now())}:{detection_pass_id()}:{digest}"


def _keepable(response: object, status: str, headers: list[tuple[str, str]]) -> bool:
    if not getattr(response, FRONT_KEEPABLE, False) or not status.startswith("200 "):
        return False
    return not any(name.lower() == "set-cookie" for name, _ in headers)


class PageFront:
    """WSGI middleware: replays kept public pages, hands everything else to ``app``."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        key = front_key(environ)
        if key is None:
            return self.app(environ, start_response)
        kept = _kept.get(key)
        if kept is not None:
            start_response(kept.status, _replayed(kept.headers))
            return [kept.body]
        seen: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            seen["status"], seen["headers"] = status, headers
            return start_response(status, headers, exc_info)

        response = self.app(environ, capture)
        if "status" in seen and _keepable(response, seen["status"], seen["headers"]):
            # A kept page is a plain HttpResponse: its content is already in memory.
            body = b"".join(response)
            _keep(key, Kept(seen["status"], tuple(seen["headers"]), body))
            close = getattr(response, "close", None)
            if close is not None:
                close()
            return [body]
        return response


def _replayed(headers: tuple[tuple[str, str], ...]) -> list[tuple[str, str]]:
    control = cache_control(timezone.now())
    return [
        (name, control if name.lower() == "cache-control" else value) for name, value in headers
    ]

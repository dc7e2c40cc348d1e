"""The site's languages: which one a request is in, the switcher and the alternates.

A page's language is its URL's: English unprefixed (/tiktok/), the others under their prefix
(/es/tiktok/, /pt-br/tiktok/). So a URL always shows the same page, and the whole-page cache,
proxies and search engines need nothing more than the path. Only an unprefixed page asks more:
a visitor whose switcher choice (the or_lang cookie) or, without one, whose browser
(Accept-Language) prefers another of the site's languages is sent to that language's URL.
Those unprefixed answers carry `Vary: Accept-Language, Cookie`; prefixed ones vary on nothing.

The read API, feeds, badges, health checks and the admin are not under a prefix: they speak
English (the API translates its words on request: `?lang=`, common/api.py)."""

import functools
from urllib.parse import urlencode

from django.conf import settings
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseBase,
    HttpResponseRedirect,
)
from django.urls import Resolver404, resolve, translate_url
from django.utils import translation
from django.utils.cache import patch_vary_headers
from django.utils.deprecation import MiddlewareMixin
from django.utils.http import url_has_allowed_host_and_scheme

# The pages a person opens in a browser, whose unprefixed URL follows the visitor's language.
# An embedded card or an image follows its embedder's choice of URL instead.
NEGOTIATED = frozenset(
    {
        "home",
        "live_map",
        "region",
        "service_detail",
        "report_form",
        "report_thanks",
        "report_received",
        "report_already",
        "recovery_form",
        "recovery_thanks",
        "alert_form",
        "alert_sent",
        "event_detail",
    }
)
CODES = tuple(code for code, _ in settings.LANGUAGES)


def html_lang(code: str) -> str:
    """The BCP 47 tag for `lang` and `hreflang`: "pt-br" is written "pt-BR"."""
    lang, _, region = code.partition("-")
    return f"{lang}-{region.upper()}" if region else lang


def wanted_language(request: HttpRequest) -> str:
    """The switcher's choice (the cookie) if it names a site language, else the browser's
    first language if the site has it (pt-PT and pt read as pt-br), else English. Only the
    first: browsers list the preferred one first, and nginx's cache key makes the same choice
    from the same headers (docker/nginx), so that the page it keeps is the one the app would
    give."""
    return wanted_language_from(
        request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, ""),
        request.META.get("HTTP_ACCEPT_LANGUAGE", ""),
    )


def wanted_language_from(chosen: str, accept_language: str) -> str:
    """``wanted_language`` from the cookie's value and the Accept-Language header (the page
    front decides before Django has a request)."""
    if chosen in CODES:
        return chosen
    first = accept_language.split(",")[0].split(";")[0].strip()
    if not first or first == "*":
        return settings.LANGUAGE_CODE
    try:
        return translation.get_supported_language_variant(first.lower())
    except LookupError:
        return settings.LANGUAGE_CODE


@functools.lru_cache(maxsize=2048)
def _url_name(urlconf: str, path: str) -> str | None:
    """The URL name of an unprefixed path, kept per process: resolving it here as well as in
    Django's handler doubled the cost of resolving every request (the page patterns come after
    the API's). The URL configuration does not change while a process runs; bounded, so paths
    a client invents only push older ones out."""
    try:
        return resolve(path, urlconf).url_name
    except Resolver404:
        return None


def _negotiated(request: HttpRequest) -> bool:
    if request.method not in ("GET", "HEAD"):
        return False
    if translation.get_language_from_path(request.path_info):
        return False
    urlconf = getattr(request, "urlconf", None) or settings.ROOT_URLCONF
    return _url_name(str(urlconf), request.path_info) in NEGOTIATED


class LanguageMiddleware(MiddlewareMixin):
    """Django's LocaleMiddleware for i18n_patterns with an unprefixed default language, plus
    the redirect of unprefixed pages; without its Vary: Accept-Language on every unprefixed
    response (the API's included, whose content never follows it)."""

    def process_request(self, request: HttpRequest) -> HttpResponseBase | None:
        translation.activate(
            translation.get_language_from_path(request.path_info) or settings.LANGUAGE_CODE
        )
        request.LANGUAGE_CODE = translation.get_language()
        request.negotiated = _negotiated(request)  # type: ignore[attr-defined]
        if not request.negotiated:  # type: ignore[attr-defined]
            return None
        wanted = wanted_language(request)
        if wanted == settings.LANGUAGE_CODE:
            return None
        target = translate_url(request.get_full_path(), wanted)
        if target == request.get_full_path():
            return None
        response = HttpResponseRedirect(target)
        # Personal (it follows the visitor's cookie and browser): not for shared caches.
        response["Cache-Control"] = "private, max-age=0"
        return self.process_response(request, response)

    def process_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        if getattr(request, "negotiated", False):
            patch_vary_headers(response, ("Accept-Language", "Cookie"))
        response.headers.setdefault("Content-Language", html_lang(translation.get_language()))
        return response


def language_switch(request: HttpRequest, code: str) -> HttpResponse:
    """/language/<code>/?next=<this page in that language>: the switcher's links. Keeps the
    choice in a cookie, so an unprefixed page no longer sends the visitor elsewhere, and
    goes to the page (a link, not a form: the pages carry no CSRF token, they are cached)."""
    if code not in CODES:
        return HttpResponseBadRequest("code: not one of the site's languages\n")
    target = request.GET.get("next", "/")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = "/"
    # The target is resolved in its own language (its prefix), then reversed in the chosen one.
    with translation.override(translation.get_language_from_path(target) or "en"):
        response = HttpResponseRedirect(translate_url(target, code))
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        code,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        samesite="Lax",
        secure=settings.LANGUAGE_COOKIE_SECURE,
        httponly=True,
    )
    response["Cache-Control"] = "no-store"
    return response


def alternates(request: HttpRequest) -> list[dict[str, str]]:
    """This page in every language: its URL (absolute with SITE_URL), the switcher's link,
    the language's name in itself. Nothing personal: the path and query only."""
    current = request.get_full_path()
    out = []
    for code, name in settings.LANGUAGES:
        url = translate_url(current, code)
        out.append(
            {
                "code": code,
                "lang": html_lang(code),
                "name": name,
                "url": settings.SITE_URL + url,
                "switch": f"/language/{code}/?{urlencode({'next': url})}",
            }
        )
    return out

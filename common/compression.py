"""Gzip for the pages and the API's JSON, except where it would leak a secret.

BREACH: a response that holds a secret (the CSRF token on the report form and the admin) and
also reflects what a request sent can be compressed into telling that secret byte by byte,
by an attacker who makes a visitor's browser send many requests and watches the sizes. So a
response is compressed only when nothing on it is secret to the visitor: it used no CSRF token,
it sets no cookie, and the request carried no session. The public pages and read API (the bulk
of the bytes) are exactly those; the API's token clients send their token in a header that no
other site can make a browser send, and their answers come compressed too."""

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase
from django.middleware.gzip import GZipMiddleware


def carries_a_secret(request: HttpRequest, response: HttpResponseBase) -> bool:
    return bool(
        request.META.get("CSRF_COOKIE_NEEDS_UPDATE")
        or response.cookies
        or settings.SESSION_COOKIE_NAME in request.COOKIES
    )


class PublicGZipMiddleware(GZipMiddleware):
    def process_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        if carries_a_secret(request, response):
            return response
        return super().process_response(request, response)

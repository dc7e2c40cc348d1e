"""Answers for when the database is unavailable: a 503 that says so and when to try again,
instead of Django's bare "Server Error (500)", which tells a client nothing and a load
balancer that the app is broken rather than waiting on something.

Pages kept by the whole-page cache are served from it by web.caching.public_page; this is for
everything else: the API (in its error shape), report POSTs, pages without a kept copy."""

import logging
from collections.abc import Callable

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string

from common.api import error_json

logger = logging.getLogger(__name__)

# Seconds a client should wait: PostgreSQL restarts or fails over in well under a minute, and
# a crowd retrying at once would only hold it down.
UNAVAILABLE_RETRY_AFTER = 30

# What "the database is not there" looks like through Django: a connection refused, cut or
# timed out (OperationalError), or one already closed under the request (InterfaceError).
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError)


def unavailable_response(request: HttpRequest) -> HttpResponse:
    response: HttpResponse
    if request.path.startswith("/api/"):
        response = error_json(
            status_code=503,
            code="unavailable",
            message=(
                "The service is temporarily unavailable; nothing was stored. "
                f"Try again in {UNAVAILABLE_RETRY_AFTER} seconds."
            ),
        )
    else:
        # Rendered without the request: its context processors could need the database too.
        html = render_to_string(
            "unavailable.html",
            {"site_name": settings.SITE_NAME, "retry_after": UNAVAILABLE_RETRY_AFTER},
        )
        response = HttpResponse(html, status=503)
    response["Retry-After"] = str(UNAVAILABLE_RETRY_AFTER)
    # Not kept by any cache: the next request may well succeed.
    response["Cache-Control"] = "no-store"
    return response


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, DATABASE_UNAVAILABLE):
            return None
        logger.error("database unavailable, answering 503 for %s: %s", request.path, exception)
        return unavailable_response(request)

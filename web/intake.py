"""A single report taken before Django's middleware runs: POST /api/v1/reports.

On an outage day the report API is the one write the crowd makes, thousands a minute. Through
Django, a report spent more of the web worker's time in the middleware stack, URL resolution
and DRF's request handling than in its own work (one statement that judges and stores it).
The front sits between the WSGI server and Django, as the page front (``web.front``)
does, and takes only the common case: a JSON report that passes validation. It runs the same
code as the view (``reports.api.named_service``, ``reports.validation.clean_report``,
``reports.services.report_accept``: the rate limit, the dedupe, the address cap and the
insert in one statement, so a 201 only after the commit that holds the row) and answers
with the status, body and headers Django's stack puts on that answer: the response-side
middleware that applies to it runs here too (security headers, CSP, frame options, gzip).
``tests/web/test_intake_front.py`` sends the same requests through both and compares.

Everything else goes to Django untouched, the body put back for it to read: a body that is not
a JSON object of valid fields (Django words the 400 and counts it against the address), another
content type or charset, a chunked body or none, a host Django would refuse (its own
``get_host``), plain HTTP where Django redirects to HTTPS (its own ``SecurityMiddleware``), a
request with a session cookie. No state has
changed by then (the catalogue may have been read), so Django answers as if the front were not
there. Once the abuse controls have counted a report, the front answers whatever happens: a
service removed since this process read the catalogue is the view's 400, an unavailable
database its 503, and anything else Django's own 500.

The database connection is looked after as Django's request signals would, but not at every
report: connections past their age or broken are closed, and the next query checks the
connection first (``close_old_connections``, ``CONN_HEALTH_CHECKS``), at most once a second
per thread; a report that finds its unchecked connection cut (a database restarted since) is
tried once more on a new one, so a restart still loses no report.
"""

import io
import json
import threading
import time
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any

from csp.constants import HEADER, HEADER_REPORT_ONLY
from csp.middleware import CSPMiddleware
from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.core.handlers.exception import response_for_exception
from django.core.handlers.wsgi import WSGIRequest
from django.db import IntegrityError, close_old_connections, connection
from django.http import HttpRequest, HttpResponse
from django.middleware.clickjacking import XFrameOptionsMiddleware
from django.middleware.security import SecurityMiddleware
from django.utils import translation
from django.utils.log import log_response
from rest_framework import exceptions
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from common.api import exception_handler
from common.compression import PublicGZipMiddleware
from common.http import client_ip
from common.middleware import DATABASE_UNAVAILABLE, DatabaseUnavailableMiddleware
from common.parsers import MAX_JSON_DEPTH
from outages.selectors import catalogue_forget
from reports.api import ReportCreateApi, named_service, submission_answer
from reports.models import Source
from reports.services import Submission, client_key_for, report_accept
from reports.validation import CleanReport, clean_report
from web.languages import html_lang

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

INTAKE_PATH = "/api/v1/reports"
CSP_HEADERS = (HEADER, HEADER_REPORT_ONLY)
# Seconds between checks of a thread's database connections (_tidy_connections).
TIDY_EVERY = 1.0
_tidied = threading.local()
# The content types DRF's JSON parser reads as this front does: UTF-8, the default charset.
JSON_TYPES = frozenset(("application/json", "application/json; charset=utf-8"))


def _never(request: HttpRequest) -> HttpResponse:
    raise AssertionError("the front's middleware only finish responses")


# The response side of the middleware that adds to an API answer (the rest add nothing).
_XFRAME = XFrameOptionsMiddleware(_never)
_GZIP = PublicGZipMiddleware(_never)
_CSP = CSPMiddleware(_never)
_DATABASE_DOWN = DatabaseUnavailableMiddleware(_never)
_ALLOW = ", ".join(ReportCreateApi().allowed_methods)
_RENDERER = JSONRenderer()
# The CSP headers of the intake's answers: the same on every one (no nonce, no per-view
# policy), so built once per process and configuration, not once per report.
_csp_kept: tuple[tuple[int, int], list[tuple[str, str]]] | None = None


def _tidy_connections() -> bool:
    """What Django does at each request's start and end: close this thread's connections if
    they are past their age (CONN_MAX_AGE) or broken, and have the next query check the
    connection first (CONN_HEALTH_CHECKS). For reports that check was one more round trip to
    the database before every commit, so here it runs at most once a second per thread
    (True if it ran now); a report whose connection was cut in between is tried again on a
    new one (``_accepted``)."""
    if connection.in_atomic_block:
        # A transaction around the whole request (a test's) is not the front's to end, and
        # Django's check would end it: the test client leaves the check out for that reason.
        return False
    now = time.monotonic()
    if now - getattr(_tidied, "at", -TIDY_EVERY) < TIDY_EVERY:
        return False
    _tidied.at = now
    close_old_connections()
    return True


def _accepted(clean: CleanReport, ip: str, *, retry: bool) -> Submission:
    """report_accept, and once more on a new connection if the first try failed on one the
    health check did not look at (a database restarted since: Django's check would have
    found it before the first query). A failed report_accept changed nothing (its claims and
    its row are one statement), so the second try is judged afresh. A database that is down
    fails again: the caller's 503."""

    def accept() -> Submission:
        return report_accept(report=clean, source=Source.API, client_key=client_key_for(ip), ip=ip)

    try:
        return accept()
    except DATABASE_UNAVAILABLE:
        if not retry or connection.in_atomic_block:
            raise
    close_old_connections()  # closes the cut connection; the next query opens a new one
    return accept()


def intake_request(environ: dict[str, Any]) -> tuple[WSGIRequest, dict[str, Any]] | None:
    """The request and its body's JSON object where the front may take the report, or None
    where it is Django's to answer. The body, once read, is put back for Django."""
    if environ.get("REQUEST_METHOD") != "POST" or environ.get("PATH_INFO") != INTAKE_PATH:
        return None
    if environ.get("SCRIPT_NAME") or environ.get("HTTP_TRANSFER_ENCODING"):
        return None
    if environ.get("CONTENT_TYPE", "").lower() not in JSON_TYPES:
        return None
    length = environ.get("CONTENT_LENGTH", "")
    if not length.isdigit() or not 0 < int(length) <= settings.REPORT_MAX_BODY:
        return None
    body: bytes = environ["wsgi.input"].read(int(length))
    environ["wsgi.input"] = io.BytesIO(body)
    if len(body) != int(length):
        return None
    request = WSGIRequest(environ)
    try:
        request.get_host()
    except DisallowedHost:
        return None
    if SecurityMiddleware(_never).process_request(request) is not None:
        return None  # Django's redirect to HTTPS
    if settings.SESSION_COOKIE_NAME in request.COOKIES:
        return None
    data = _json(body)
    return (request, data) if isinstance(data, dict) else None


def _json(body: bytes) -> Any:
    """The parsed body, or None where DRF's parser might read it otherwise or refuse it."""
    if body.count(b"[") + body.count(b"{") > MAX_JSON_DEPTH:
        return None
    try:
        return json.loads(body.decode("utf-8"), parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # DRF's strict parser refuses NaN and Infinity


def _rendered(data: Any, status: int, headers: dict[str, str] | None = None) -> HttpResponse:
    """A DRF view's answer as its renderer writes it (JSON, UTF-8, compact)."""
    response = HttpResponse(
        _RENDERER.render(data), status=status, content_type="application/json", headers=headers
    )
    response["Allow"] = _ALLOW
    return response


def _from_api(response: Response) -> HttpResponse:
    """An exception handler's answer, rendered (its own headers, e.g. Retry-After, kept)."""
    headers = {k: v for k, v in response.items() if k.lower() != "content-type"}
    return _rendered(response.data, response.status_code, headers)


class IntakeFront:
    """WSGI middleware: takes single reports of the common case, hands the rest to ``app``."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        taken = intake_request(environ)
        if taken is None:
            return self.app(environ, start_response)
        request, data = taken
        # An open connection not checked now may have been cut since it was last used.
        unchecked = not _tidy_connections() and connection.connection is not None
        with translation.override(settings.LANGUAGE_CODE):
            response = self._answer(request, data, retry=unchecked)
            if response is not None:
                _finish(request, response)
        if response is None:
            return self.app(environ, start_response)
        status = f"{response.status_code} {HTTPStatus(response.status_code).phrase}"
        start_response(status, list(response.items()))
        return [response.content]

    def _answer(
        self, request: WSGIRequest, data: dict[str, Any], *, retry: bool
    ) -> HttpResponse | None:
        services = named_service(data)
        clean, _errors = clean_report(data, services)
        if clean is None:
            return None
        ip = client_ip(request)
        try:
            submission = _accepted(clean, ip, retry=retry)
        except IntegrityError:
            # The service was removed since this process last read the catalogue.
            catalogue_forget()
            refused = exceptions.ValidationError({"service": ["Unknown service."]})
            return self._logged(request, _from_api(_handled(refused)))
        except DATABASE_UNAVAILABLE as exc:
            unavailable = _DATABASE_DOWN.process_exception(request, exc)
            assert unavailable is not None  # it answers every DATABASE_UNAVAILABLE
            return self._logged(request, unavailable)
        except Exception as exc:  # noqa: BLE001 - answered as Django answers an unexpected error
            return response_for_exception(request, exc)
        if submission.retry_after is not None:
            throttled = exceptions.Throttled(wait=submission.retry_after)
            return self._logged(request, _from_api(_handled(throttled)))
        return _rendered(*submission_answer(submission, services, clean))

    @staticmethod
    def _logged(request: WSGIRequest, response: HttpResponse) -> HttpResponse:
        # As Django's handler logs every 4xx and 5xx answer (django.request).
        log_response(
            "%s: %s", response.reason_phrase, request.path, response=response, request=request
        )
        return response


def _handled(exc: exceptions.APIException) -> Response:
    response = exception_handler(exc, {})
    assert response is not None  # every APIException has an answer
    return response


def _add_csp(request: HttpRequest, response: HttpResponse) -> None:
    global _csp_kept
    key = (
        id(getattr(settings, "CONTENT_SECURITY_POLICY", None)),
        id(getattr(settings, "CONTENT_SECURITY_POLICY_REPORT_ONLY", None)),
    )
    kept = _csp_kept
    if kept is None or kept[0] != key:
        probe = _CSP.process_response(request, HttpResponse())
        kept = (key, [(name, probe[name]) for name in CSP_HEADERS if name in probe])
        _csp_kept = kept
    for name, value in kept[1]:
        response.headers.setdefault(name, value)


def _finish(request: HttpRequest, response: HttpResponse) -> None:
    """What the middleware stack adds to an API answer on its way out, innermost first (the
    order of settings.MIDDLEWARE, reversed). Each changes the response in place."""
    _XFRAME.process_response(request, response)
    # CommonMiddleware: the length. LanguageMiddleware: the API's paths are never negotiated.
    if "Content-Length" not in response:
        response["Content-Length"] = str(len(response.content))
    response.headers.setdefault("Content-Language", html_lang(translation.get_language()))
    _add_csp(request, response)
    _GZIP.process_response(request, response)
    # Made each time: it reads its settings when made, as Django's handler does when it loads.
    SecurityMiddleware(_never).process_response(request, response)

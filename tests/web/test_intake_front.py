"""The intake front (web/intake.py): a single report of the common case answered before
Django's middleware, with the status, body and headers Django's stack gives the same request,
and everything else handed to Django with its body intact. Requests go through the WSGI
application gunicorn serves (config.wsgi.application) and, for comparison, through Django's
own WSGI handler behind it (config.wsgi.django_application); the database is the real one,
in autocommit as a web process has it, so a report is judged and stored by one statement."""

import gzip
import io
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.db import connection

from config.wsgi import application, django_application
from reports.models import Report
from tests.postgres import OwnPostgres, other_connection, own_postgres_in_use
from web import intake

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("one_window")]

REPORT = {"service": "tiktok", "problem": "login", "country": "US"}
# Fields whose values differ between two reports and nothing else: the id and the time.
VARYING = ("id", "created_at")


def environ_for(
    body: bytes,
    *,
    ip: str = "198.51.100.7",
    path: str = "/api/v1/reports",
    content_type: str = "application/json",
    method: str = "POST",
    **extra: Any,
) -> dict[str, Any]:
    environ = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "127.0.0.1:8000",
        "REMOTE_ADDR": ip,
        "CONTENT_TYPE": content_type,
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "wsgi.errors": io.StringIO(),
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
    }
    environ.update(extra)
    return environ


def call(app, environ: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    seen: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None):
        seen["status"], seen["headers"] = status, headers

    result = app(environ, start_response)
    try:
        body = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()  # as a WSGI server does: Django's request_finished
    names = [name.lower() for name, _ in seen["headers"]]
    assert len(names) == len(set(names)), seen["headers"]  # no header twice
    return int(seen["status"].split()[0]), {n.lower(): v for n, v in seen["headers"]}, body


def post(app, report: Any = REPORT, **kwargs: Any) -> tuple[int, dict[str, str], bytes]:
    return call(app, environ_for(json.dumps(report).encode(), **kwargs))


def decoded(headers: dict[str, str], body: bytes) -> Any:
    if headers.get("content-encoding") == "gzip":
        body = gzip.decompress(body)
    return json.loads(body)


def assert_same_answer(django, front) -> None:
    """Status, headers and body alike, but for what differs between any two reports (the id
    and the time, and so the lengths), and gzip's choice: Django pads a compressed body with up
    to 100 random bytes (Heal The BREACH) and sends it uncompressed where that came out no
    shorter, so a short body is compressed one time and not the next."""
    (status, headers, body), (front_status, front_headers, front_body) = django, front
    assert front_status == status, (front_body, body)
    assert int(front_headers["content-length"]) == len(front_body)
    lengths = ("content-length", "content-encoding")
    assert {k: v for k, v in front_headers.items() if k not in lengths} == {
        k: v for k, v in headers.items() if k not in lengths
    }
    data, front_data = decoded(headers, body), decoded(front_headers, front_body)
    if isinstance(data, dict):
        for name in VARYING:
            if name in data:
                assert type(front_data.pop(name)) is type(data.pop(name))
    assert front_data == data


# ------------------------------------------------------------------------ the same answers


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"HTTP_ACCEPT_ENCODING": "gzip, deflate, br"},
        {"HTTP_ACCEPT_LANGUAGE": "de-DE,de;q=0.9", "HTTP_COOKIE": "django_language=fr"},
        {"CONTENT_TYPE": "application/json; charset=utf-8"},
    ],
    ids=["plain", "gzip", "another-language", "charset"],
)
def test_a_counted_report_is_answered_as_django_answers_it(tiktok, django_calls, extra):
    django = post(django_application, ip="198.51.100.1", **extra)
    assert django_calls == ["/api/v1/reports"]
    front = post(application, ip="198.51.100.2", **extra)
    assert django_calls == ["/api/v1/reports"]  # the front answered: Django never saw it
    assert front[0] == 201
    assert_same_answer(django, front)
    stored = decoded(front[1], front[2])
    row = Report.objects.get(pk=stored["id"])
    assert (row.service_id, row.problem, row.country, row.source, row.counted) == (
        tiktok.id,
        "login",
        "US",
        "api",
        True,
    )
    assert stored["country_name"] == "United States"  # in English, whatever the visitor asks


def test_gzip_as_django_compresses_it(tiktok):
    # A body long enough that compression always saves more than its padding.
    report = {**REPORT, "comment": "The app shows a blank screen after the update. " * 5}
    front = post(application, report, ip="198.51.100.3", HTTP_ACCEPT_ENCODING="gzip")
    assert front[1]["content-encoding"] == "gzip"
    assert front[1]["vary"] == "Accept-Encoding"
    assert decoded(front[1], front[2])["service"] == "tiktok"


def test_over_https_with_hsts_as_django(tiktok, settings):
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    extra = {"HTTP_X_FORWARDED_PROTO": "https"}
    # Handlers made now, as a server starting with these settings makes them.
    django = post(WSGIHandler(), ip="198.51.100.4", **extra)
    front = post(intake.IntakeFront(WSGIHandler()), ip="198.51.100.5", **extra)
    assert front[1]["strict-transport-security"] == "max-age=31536000; includeSubDomains"
    assert_same_answer(django, front)


def test_a_repeat_and_a_report_over_the_address_cap_as_django(tiktok, gmail, settings):
    assert post(application, ip="203.0.113.9")[0] == 201
    # The same client again: once through each.
    django, front = post(django_application, ip="203.0.113.9"), post(application, ip="203.0.113.9")
    assert front[0] == 200 and decoded(*front[1:])["detail"].startswith("Already counted")
    assert_same_answer(django, front)
    # Clients of one IPv6 network (one address to the cap) over its cap: stored, not counted.
    settings.REPORT_ADDRESS_LIMIT = 1
    other = {**REPORT, "service": "gmail", "problem": "email"}
    assert post(application, other, ip="2001:db8::1")[0] == 201
    django = post(django_application, other, ip="2001:db8::2")
    front = post(application, other, ip="2001:db8::3")
    assert front[0] == 200 and decoded(*front[1:])["detail"].startswith("Stored, not counted")
    assert_same_answer(django, front)
    assert Report.objects.filter(service=gmail, counted=False).count() == 2


def test_over_the_rate_limit_as_django_with_retry_after(tiktok, gmail, settings):
    settings.RATE_LIMIT_REPORTS = 1
    assert post(application, ip="192.0.2.1")[0] == 201
    assert post(django_application, ip="192.0.2.2")[0] == 201
    other = {**REPORT, "service": "gmail", "problem": "email"}
    django, front = (
        post(django_application, other, ip="192.0.2.2"),
        post(application, other, ip="192.0.2.1"),
    )
    assert front[0] == 429 and int(front[1]["retry-after"]) >= 1
    assert decoded(*front[1:])["error"] == "throttled"
    assert_same_answer(django, front)
    assert Report.objects.filter(service=gmail).count() == 0


def test_a_service_removed_since_the_catalogue_was_read_is_the_views_400(tiktok, django_calls):
    assert post(application, ip="192.0.2.10")[0] == 201  # the process now keeps the catalogue
    with connection.cursor() as cursor:  # as another process would, without our signal
        cursor.execute("DELETE FROM reports_report")
        cursor.execute("DELETE FROM outages_service WHERE slug = 'tiktok'")
    front = post(application, ip="192.0.2.11")
    assert front[0] == 400
    body = decoded(*front[1:])
    assert body["fields"] == {"service": ["Unknown service."]}
    assert django_calls == []  # answered by the front, which had counted it already
    assert Report.objects.count() == 0
    # The claim was given back and the catalogue forgotten: the next try is Django's 400 for a
    # service it does not know, from the database.
    again = post(application, ip="192.0.2.11")
    assert again[0] == 400 and "Unknown service 'tiktok'" in again[2].decode()


# ------------------------------------------------------------------- what goes to Django


def _reaches_django(environ: dict[str, Any], body: bytes) -> tuple[int, dict[str, str], bytes]:
    """The request through the front to an app that records what it was given."""
    given: dict[str, Any] = {}

    def inner(env: dict[str, Any], start_response):
        given["body"] = env["wsgi.input"].read(int(env.get("CONTENT_LENGTH") or 0))
        start_response("299 Django", [("Content-Type", "text/plain")])
        return [b"django"]

    answer = call(intake.IntakeFront(inner), environ)
    assert answer[0] == 299, answer
    assert given["body"] == body  # the body is whole for Django to read
    return answer


@pytest.mark.parametrize(
    ("body", "extra"),
    [
        (b'{"service": "tiktok", "problem": "nope", "country": "US"}', {}),
        (b'{"service": "tiktok", "problem": "login"}', {}),
        (b'{"service": "tiktok", "problem": "login", "country": "US", "x": 1}', {}),
        (b'{"service": "tiktok", "problem": "login", "country": "US"', {}),
        (b'["tiktok"]', {}),
        (b'{"service": "tiktok", "problem": "login", "country": NaN}', {}),
        (b'{"service": "tiktok", "problem": "login", "country": "US", "c": ' + b"[" * 40, {}),
        ('{"service": "tiktok", "comment": "é"}'.encode("latin-1"), {}),
        (b"\xef\xbb\xbf" + json.dumps(REPORT).encode(), {}),
        (json.dumps(REPORT).encode(), {"CONTENT_TYPE": "text/plain"}),
        (json.dumps(REPORT).encode(), {"CONTENT_TYPE": "application/json; charset=latin-1"}),
        (json.dumps(REPORT).encode(), {"HTTP_TRANSFER_ENCODING": "chunked"}),
        (json.dumps(REPORT).encode(), {"HTTP_HOST": "evil.example"}),
        (json.dumps(REPORT).encode(), {"HTTP_COOKIE": "sessionid=abc"}),
        (json.dumps(REPORT).encode(), {"SCRIPT_NAME": "/radar"}),
        (json.dumps(REPORT).encode(), {"PATH_INFO": "/api/v1/reports/"}),
        (json.dumps(REPORT).encode(), {"PATH_INFO": "/api/v1/reports/batch"}),
        (json.dumps(REPORT).encode(), {"REQUEST_METHOD": "PUT"}),
        (json.dumps({**REPORT, "comment": "x" * 9000}).encode(), {}),
    ],
    ids=[
        "invalid-field",
        "missing-field",
        "unknown-field",
        "malformed",
        "not-an-object",
        "nan",
        "too-deep",
        "not-utf8",
        "bom",
        "other-type",
        "other-charset",
        "chunked",
        "refused-host",
        "session",
        "script-name",
        "other-path",
        "batch",
        "other-method",
        "too-large",
    ],
)
def test_everything_but_the_common_case_goes_to_django_untouched(tiktok, body, extra, settings):
    settings.ALLOWED_HOSTS = ["127.0.0.1"]
    settings.RATE_LIMIT_REPORTS = 1
    _reaches_django(environ_for(body, **extra), body)
    assert Report.objects.count() == 0
    # Nothing was counted against the address: its whole allowance is left.
    assert post(application)[0] == 201


def test_plain_http_where_django_redirects_to_https_goes_to_django(tiktok, settings):
    settings.SECURE_SSL_REDIRECT = True
    body = json.dumps(REPORT).encode()
    _reaches_django(environ_for(body), body)
    answer = call(intake.IntakeFront(WSGIHandler()), environ_for(body))
    assert answer[0] == 301  # Django's redirect, nothing stored
    assert Report.objects.count() == 0


def test_a_bad_report_through_the_front_is_djangos_400_and_counts_against_the_address(
    tiktok, django_calls, settings
):
    settings.RATE_LIMIT_REPORTS = 1
    bad = {**REPORT, "country": "XX"}
    status, headers, body = post(application, bad, ip="192.0.2.20")
    assert status == 400 and json.loads(body)["fields"]["country"]
    assert django_calls == ["/api/v1/reports"]
    assert post(application, ip="192.0.2.20")[0] == 429  # the bad one used the allowance


# ------------------------------------------------------------------------- the guarantees


def test_concurrent_reports_each_answered_after_the_commit_that_holds_them(tiktok, gmail):
    """Reports from many threads at once share commits; every 201 names a row that another
    connection can already read when the answer is given."""
    threads, each = 8, 12
    start = threading.Barrier(threads)
    missing: list[int] = []
    created: list[int] = []
    failures: list[Any] = []

    def crowd(t: int) -> None:
        with other_connection(autocommit=True) as reader:
            start.wait()
            for i in range(each):
                service = ("tiktok", "login") if i % 2 else ("gmail", "email")
                report = {"service": service[0], "problem": service[1], "country": "US"}
                status, headers, body = post(application, report, ip=f"10.{t}.{i}.1")
                if status != 201:
                    failures.append((status, body))
                    continue
                pk = json.loads(body)["id"]
                created.append(pk)
                found = reader.execute("SELECT 1 FROM reports_report WHERE id = %s", (pk,))
                if found.fetchone() is None:
                    missing.append(pk)
        connection.close()

    workers = [threading.Thread(target=crowd, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert failures == []
    assert missing == []
    assert len(created) == len(set(created)) == threads * each
    assert Report.objects.count() == threads * each


def test_the_same_client_racing_itself_is_counted_once(tiktok):
    threads = 8
    start = threading.Barrier(threads)
    statuses: list[int] = []

    def repeat() -> None:
        start.wait()
        statuses.append(post(application, ip="198.51.100.99")[0])
        connection.close()

    workers = [threading.Thread(target=repeat) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert sorted(statuses) == [200] * (threads - 1) + [201]
    assert Report.objects.count() == 1


def test_with_the_cache_down_reports_are_still_taken(tiktok, own_redis):
    """The abuse controls fail open (reports.abuse): no cache, and the report is stored."""
    own_redis.kill()
    status, headers, body = post(application, ip="198.51.100.50")
    assert status == 201, body
    assert Report.objects.count() == 1
    assert post(application, ip="198.51.100.50")[0] == 200  # the dedupe held, from the rows


# ------------------------------------------------------------------ the database restarted


@pytest.fixture
def own_database(django_db_blocker) -> Iterator[OwnPostgres]:
    with own_postgres_in_use("outages_front", django_db_blocker) as pg:
        yield pg


@pytest.mark.parametrize("checked", [False, True], ids=["between-checks", "at-a-check"])
def test_a_restarted_database_loses_no_report_and_a_stopped_one_answers_503(
    own_database, monkeypatch, checked
):
    # Between the front's checks of the connection the cut one is found by the insert and the
    # report stored on a new one; at a check, the health check finds it first.
    monkeypatch.setattr(intake, "TIDY_EVERY", 0.0 if checked else 3600.0)
    assert post(application, ip="10.9.0.1")[0] == 201  # this thread's connection is open
    own_database.stop()
    own_database.start()  # the open connection was cut
    status, headers, body = post(application, ip="10.9.0.2")
    assert status == 201, body
    own_database.stop()
    status, headers, body = post(application, ip="10.9.0.3")
    assert status == 503 and json.loads(body)["error"] == "unavailable"
    assert int(headers["retry-after"]) > 0 and headers["cache-control"] == "no-store"
    own_database.start()
    # The refused report left no claim: its retry is counted.
    assert post(application, ip="10.9.0.3")[0] == 201
    keys = list(Report.objects.values_list("client_key", flat=True))
    assert len(keys) == len(set(keys)) == 3


@pytest.mark.django_db(transaction=False)
def test_a_transaction_around_the_request_is_left_open(tiktok):
    """A test's transaction around the request (as the schema tests drive the WSGI app): the
    front neither checks nor closes the connection inside it, as Django's test client does."""
    status, headers, body = post(application, ip="198.51.100.60")
    assert status == 201, body
    assert connection.in_atomic_block and connection.connection is not None
    assert Report.objects.filter(pk=json.loads(body)["id"]).exists()  # the same transaction

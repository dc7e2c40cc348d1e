"""The database goes away: a PostgreSQL server of these tests' own (tests/postgres.py, on a
free port, migrated and filled like any test database) serves the app through the default
connection, then is stopped with `pg_ctl stop -m immediate`, which cuts the open connection
as a crash or a killed container would and refuses every new one. What a client sees then is
what it would see from a production web process whose database has gone: the API answers 503
in its error shape, pages their last good copy or a plain page, reports are refused without a
partial write, and readiness names the database while liveness still answers."""

import json
import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.signals import request_finished, request_started
from django.db import connection
from django.utils import timezone
from rest_framework.authtoken.models import Token

from common.cache import detection_pass_mark
from outages.services import service_upsert
from reports.models import Report
from tests import pagedata
from tests.postgres import OwnPostgres, default_connection_to, own_postgres

DATABASE = "outages_goes_away"
REPORT = {"service": "tiktok", "problem": "login", "country": "US"}
# Every read of the API, and the intake; each needs the database.
API_READS = [
    "/api/v1/services",
    "/api/v1/services/tiktok",
    "/api/v1/services/tiktok/trend?range=6h",
    "/api/v1/services/tiktok/heatmap?window=1h",
    "/api/v1/services/tiktok/problems?window=1h",
    "/api/v1/heatmap?window=1h",
    "/api/v1/outages",
    "/api/v1/outages/open",
    "/api/v1/outages/1",
    "/api/v1/regions/US/services?window=1h",
]


@pytest.fixture(scope="module")
def server(django_db_blocker) -> Iterator[OwnPostgres]:
    with own_postgres(DATABASE) as pg:
        with django_db_blocker.unblock(), default_connection_to(**_settings(pg)):
            call_command("migrate", verbosity=0)
            tiktok = service_upsert(
                slug="tiktok",
                name="TikTok",
                category="social",
                home_url="https://www.tiktok.com",
                problems=["playback", "upload", "login", "app", "other"],
            )
            gmail = service_upsert(
                slug="gmail",
                name="Gmail",
                category="email_productivity",
                home_url="https://mail.google.com",
                problems=["email", "login", "website", "other"],
            )
            pagedata.build(tiktok=tiktok, gmail=gmail)
            user = User.objects.create_user("partner", password="unused-password-123")
            Token.objects.create(user=user, key="a" * 40)
        yield pg


def _settings(pg: OwnPostgres) -> dict[str, object]:
    return {"HOST": "127.0.0.1", "PORT": str(pg.port), "NAME": DATABASE, "CONN_MAX_AGE": 600}


@pytest.fixture
def database(server, django_db_blocker) -> Iterator[OwnPostgres]:
    """The app's default connection on the server, open (as a web process keeps it between
    requests); the server is running again afterwards for the next test."""
    with django_db_blocker.unblock(), default_connection_to(**_settings(server)):
        Report.objects.exists()  # opens the persistent connection
        try:
            yield server
        finally:
            if not server.running:
                server.start()


def back_up(pg: OwnPostgres) -> None:
    pg.start()
    # What the next request's health check does with the connection that was cut.
    connection.close()


def _as_a_server_would(call):
    # A real server runs the connection health check at the start of each request; the test
    # client leaves it out. Both ways must end in a 503.
    request_started.send(sender=__name__)
    try:
        return call()
    finally:
        request_finished.send(sender=__name__)


def documented(schema: dict, path: str, method: str = "get") -> dict:
    """The schema's operation for a concrete path: the template that matches it with the most
    fixed characters (/outages/open before /outages/{outage_id})."""
    path = path.split("?", 1)[0]
    matching = [
        template
        for template in schema["paths"]
        if re.fullmatch(re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)), path)
    ]
    best = max(matching, key=lambda t: len(re.sub(r"\{[^}]+\}", "", t)))
    operation: dict = schema["paths"][best][method]
    return operation


def test_the_api_answers_503_in_its_error_shape_with_retry_after(database, api):
    assert api.get("/api/v1/services/gmail").status_code == 200  # up, and answering
    schema = api.get("/api/v1/schema?format=json").json()
    shape = set(schema["components"]["schemas"]["Error"]["properties"])
    database.stop()
    for i, path in enumerate(API_READS):
        # Alternately on the connection that was cut and through the per-request check.
        r = api.get(path) if i % 2 else _as_a_server_would(lambda p=path: api.get(p))
        assert r.status_code == 503, (path, r.status_code, r.content[:200])
        assert r["Content-Type"] == "application/json", path
        body = r.json()
        assert body["error"] == "unavailable" and body["message"], (path, body)
        assert set(body) <= shape == {"error", "message", "fields"}
        assert int(r["Retry-After"]) > 0
        assert r["Cache-Control"] == "no-store"
        # What the schema promises for this operation.
        assert "Retry-After" in documented(schema, path)["responses"]["503"]["headers"], path


def test_report_posts_answer_503_and_store_nothing(database, api, client):
    database.stop()
    r = api.post("/api/v1/reports", data=json.dumps(REPORT), content_type="application/json")
    assert r.status_code == 503, r.content
    assert r.json()["error"] == "unavailable" and int(r["Retry-After"]) > 0
    r = api.post(
        "/api/v1/reports/batch",
        data=json.dumps({"reports": [REPORT] * 3}),
        content_type="application/json",
        HTTP_AUTHORIZATION="Token " + "a" * 40,
    )
    assert r.status_code == 503, r.content
    assert r.json()["error"] == "unavailable" and int(r["Retry-After"]) > 0
    r = client.post("/tiktok/report", {"problem": "login", "country": "US"})
    assert r.status_code == 503
    assert "We are having trouble" in r.content.decode() and int(r["Retry-After"]) > 0

    back_up(database)
    assert Report.objects.count() == 0  # nothing half-written
    # Nothing of the failed attempts remains (no dedupe claim either): the retries count.
    r = api.post("/api/v1/reports", data=json.dumps(REPORT), content_type="application/json")
    assert r.status_code == 201, r.content
    r = client.post("/tiktok/report", {"problem": "login", "country": "US"})
    assert r.status_code == 302
    assert Report.objects.count() == 2
    Report.objects.all().delete()


def test_pages_show_their_last_good_copy_or_a_plain_page(database, client, monkeypatch):
    home = client.get("/")
    assert home.status_code == 200
    assert "TikTok" in home.content.decode()
    database.stop()
    # A minute later the page is due again (the cache keeps each minute's), and cannot be
    # computed: its last good copy is served, saying so with the status and Retry-After.
    later = timezone.now() + timedelta(minutes=1)
    monkeypatch.setattr(timezone, "now", lambda: later)
    r = client.get("/")
    assert r.status_code == 503
    assert r.content == home.content
    assert int(r["Retry-After"]) > 0 and r["Cache-Control"] == "no-store"
    assert r["Last-Modified"] == home["Last-Modified"]
    # Pages never computed have no copy: a plain page, never Django's "Server Error (500)".
    for path in ("/map/", "/tiktok/", "/region/BR/", "/tiktok/report"):
        r = client.get(path)
        assert r.status_code == 503, path
        page = r.content.decode()
        assert "We are having trouble" in page and "Server Error" not in page, path
        assert int(r["Retry-After"]) > 0, path


def test_readiness_names_the_database_while_liveness_answers(database, client):
    detection_pass_mark(at=timezone.now())
    r = client.get("/healthz/ready")
    assert r.status_code == 200, r.content
    assert r.json()["ok"] is True and r.json()["failed"] == []
    database.stop()
    r = _as_a_server_would(lambda: client.get("/healthz/ready"))
    assert r.status_code == 503
    body = r.json()
    assert body["ok"] is False and body["failed"] == ["database"]
    assert body["checks"]["database"] == {"ok": False, "error": "the database does not answer"}
    assert body["checks"]["cache"]["ok"] is True and body["checks"]["detection"]["ok"] is True
    assert str(database.port) not in r.content.decode()  # no addresses on a public endpoint
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json() == {"ok": True}

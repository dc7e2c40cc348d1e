"""What the site does when the things around it fail. Reports must still be stored, and
pages must still answer."""

import json

import psycopg
import pytest
from django.core.signals import request_finished, request_started
from django.db import connection
from django.test import override_settings

from reports.models import Report

REPORT = {"service": "tiktok", "problem": "login", "country": "US"}
DEAD_REDIS = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        # Nothing listens on port 1: every cache call fails with a connection error.
        "LOCATION": "redis://127.0.0.1:1/0",
        "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
    }
}


@pytest.mark.django_db
@override_settings(CACHES=DEAD_REDIS)
def test_with_redis_down_reports_are_still_stored(api, tiktok):
    r = api.post("/api/v1/reports", data=json.dumps(REPORT), content_type="application/json")
    assert r.status_code == 201, r.content
    assert Report.objects.count() == 1


@pytest.mark.django_db
@override_settings(CACHES=DEAD_REDIS)
def test_with_redis_down_the_form_still_stores(client, tiktok):
    r = client.post("/tiktok/report", {"problem": "login", "country": "US"})
    assert r.status_code == 302
    assert Report.objects.count() == 1


@pytest.mark.django_db
@override_settings(CACHES=DEAD_REDIS)
def test_with_redis_down_pages_and_reads_still_answer(client, api, tiktok):
    # The page cache is an optimisation: without it every request computes from the rollups.
    for path in ("/", "/tiktok/", "/map/", "/region/US/"):
        r = client.get(path)
        assert r.status_code == 200, (path, r.status_code)
    for path in ("/api/v1/services/tiktok/trend", "/api/v1/heatmap?window=1h"):
        r = api.get(path)
        assert r.status_code == 200, (path, r.content)


@pytest.mark.django_db
@override_settings(CELERY_BROKER_URL="redis://127.0.0.1:1/0")
def test_with_the_broker_down_intake_does_not_depend_on_it(api, token_api, tiktok):
    # Intake never enqueues work: the minute rollup reads the raw table on its own schedule.
    r = api.post("/api/v1/reports", data=json.dumps(REPORT), content_type="application/json")
    assert r.status_code == 201
    r = token_api.post(
        "/api/v1/reports/batch",
        data=json.dumps({"reports": [REPORT] * 3}),
        content_type="application/json",
    )
    assert r.status_code == 201
    assert Report.objects.count() == 4


def _terminate_backends(*, dbname: str) -> int:
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    params["dbname"] = "postgres"
    with psycopg.connect(**params, autocommit=True) as admin:
        row = admin.execute(
            "select count(pg_terminate_backend(pid)) from pg_stat_activity "
            "where datname = %s and pid <> pg_backend_pid()",
            [dbname],
        ).fetchone()
    return int(row[0]) if row else 0


@pytest.mark.django_db(transaction=True)
def test_after_a_database_restart_the_next_request_reconnects(api, tiktok):
    """A web worker keeps its connection between requests (CONN_MAX_AGE); when PostgreSQL
    restarts, the health check at the start of the next request must reconnect instead of
    failing that request."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL")
    assert Report.objects.count() == 0  # opens the persistent connection
    assert _terminate_backends(dbname=connection.settings_dict["NAME"]) >= 1
    # The test client skips the per-request connection check; a real server runs it.
    request_started.send(sender=__name__)
    try:
        r = api.post("/api/v1/reports", data=json.dumps(REPORT), content_type="application/json")
    finally:
        request_finished.send(sender=__name__)
    assert r.status_code == 201
    assert Report.objects.count() == 1

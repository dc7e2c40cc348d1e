"""What the site does when the things around it fail. Reports must still be stored, and
pages must still answer."""

import json
import logging
from collections import Counter

import psycopg
import pytest
from django.core.signals import request_finished, request_started
from django.db import connection
from django.test import Client, override_settings
from django.utils import timezone

from analytics.models import MinuteCount
from analytics.rollup import rollup_run
from reports.models import Report, Source
from reports.services import client_key_for, report_create
from reports.validation import CleanReport
from tests.redis import UNREACHABLE_CACHES as DEAD_REDIS

REPORT = {"service": "tiktok", "problem": "login", "country": "US"}


def login_report(service):
    return CleanReport(service.id, "login", "US", "", "")


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


def post_report(api, body=REPORT):
    return api.post("/api/v1/reports", data=json.dumps(body), content_type="application/json")


@pytest.mark.django_db
@override_settings(CACHES=DEAD_REDIS)
def test_with_redis_down_one_address_is_still_limited_without_a_word(
    api, tiktok, caplog, one_window
):
    # The abuse controls keep their state beside the reports, not in the cache: a flood from
    # one address is rate-limited and deduplicated as ever, and nothing is logged per request.
    caplog.set_level(logging.WARNING)
    statuses = Counter(post_report(api).status_code for _ in range(200))
    assert statuses == {201: 1, 200: 29, 429: 170}
    assert Report.objects.count() == 1
    ours = [r for r in caplog.records if r.name.split(".")[0] in ("reports", "common")]
    assert ours == []


@pytest.mark.django_db
@override_settings(CACHES=DEAD_REDIS)
def test_with_redis_down_an_address_counts_at_most_its_cap(tiktok, one_window):
    for _ in range(14):
        browser = Client()
        browser.get("/tiktok/report")  # a real, server-signed browser id each
        browser.post("/tiktok/report", {"problem": "login", "country": "US"})
    assert Report.objects.count() == 14  # all kept
    rollup_run(now=timezone.now())
    assert sum(MinuteCount.objects.values_list("count", flat=True)) == 10


@pytest.mark.django_db
def test_the_dedupe_survives_a_redis_restart(api, tiktok, gmail, own_redis):
    assert post_report(api).status_code == 201
    own_redis.kill()
    own_redis.start()  # empty: it keeps nothing on disk
    again = post_report(api)
    assert again.status_code == 200 and again.json()["counted"] is False
    assert post_report(api, {**REPORT, "service": "gmail"}).status_code == 201
    assert Report.objects.filter(service=tiktok).count() == 1


@pytest.mark.django_db
@override_settings(CACHES=DEAD_REDIS)
def test_with_redis_down_a_client_another_process_counted_is_not_counted_again(api, tiktok):
    # Another web process stored this client's report; this one's memory never saw it.
    key = client_key_for("127.0.0.1")
    report_create(report=login_report(tiktok), source=Source.API, client_key=key)
    again = post_report(api)
    assert again.status_code == 200 and again.json()["counted"] is False
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
@override_settings(CACHES=DEAD_REDIS)
def test_with_redis_down_reads_are_served_and_the_throttle_says_so_once(api, tiktok, caplog):
    from common.logs import warn_every_reset

    warn_every_reset()
    caplog.set_level(logging.WARNING, logger="common.api")
    for _ in range(30):
        assert api.get("/api/v1/services").status_code == 200
    throttle = [r for r in caplog.records if "read throttle" in r.getMessage()]
    assert len(throttle) == 1, [r.getMessage() for r in throttle]


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

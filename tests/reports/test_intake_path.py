"""The single-report path: the abuse controls decided in one Redis script, the dedupe's
check against stored rows while the cache may have missed a claim, concurrent reports stored
by a shared commit, and the catalogue as each process keeps it."""

import json
import signal
import threading
import time

import psycopg
import pytest
from django.core.cache import cache
from django.db import IntegrityError, connection
from django.utils import timezone

from outages.models import Service
from reports import abuse
from reports.abuse import INTACT_KEY, intake_claim
from reports.models import Report, Source
from reports.services import client_key_for, group_commit, report_rows_insert

pytestmark = pytest.mark.usefixtures("one_window")

REPORT = {"service": "tiktok", "problem": "login", "country": "US"}


def post(api, body=REPORT, ip="198.51.100.7"):
    return api.post(
        "/api/v1/reports", data=json.dumps(body), content_type="application/json", REMOTE_ADDR=ip
    )


def cap_count(ip: str, service_id: int) -> int:
    key, _ = abuse._address_cap_key(ip=ip, service_id=service_id)
    return int(cache.get(key, 0))


def stored_row(service: Service, client_key: str) -> None:
    report_rows_insert(
        rows=[(service.id, "login", "US", "", "", timezone.now(), Source.API, client_key)]
    )


# ------------------------------------------------------------------------- the intake claim


@pytest.mark.django_db
def test_the_claim_counts_limits_and_caps_in_one_script(tiktok, settings):
    settings.RATE_LIMIT_REPORTS = 3
    settings.REPORT_ADDRESS_LIMIT = 1
    ip = "203.0.113.5"
    first = intake_claim(ip=ip, client_key="a" * 32, service_id=tiktok.id)
    assert (first.retry_after, first.first, first.counted) == (None, True, True)
    repeat = intake_claim(ip=ip, client_key="a" * 32, service_id=tiktok.id)
    assert (repeat.retry_after, repeat.first, repeat.counted) == (None, False, False)
    over_cap = intake_claim(ip=ip, client_key="b" * 32, service_id=tiktok.id)
    assert (over_cap.retry_after, over_cap.first, over_cap.counted) == (None, True, False)
    limited = intake_claim(ip=ip, client_key="c" * 32, service_id=tiktok.id)
    assert limited.retry_after is not None and limited.retry_after >= 1
    assert (limited.first, limited.counted) == (False, False)
    # A limited request claimed nothing: the same client is a first report once allowed.
    settings.RATE_LIMIT_REPORTS = 10
    again = intake_claim(ip=ip, client_key="c" * 32, service_id=tiktok.id)
    assert (again.retry_after, again.first) == (None, True)
    assert cap_count(ip, tiktok.id) == 3  # a, b and c; the limited attempt took no place


@pytest.mark.django_db
def test_while_the_cache_is_young_a_stored_report_is_a_repeat_and_gives_its_place_back(tiktok):
    ip = "203.0.113.6"
    stored_row(tiktok, "d" * 32)  # stored by a process whose claim the cache no longer has
    claim = intake_claim(ip=ip, client_key="d" * 32, service_id=tiktok.id)
    assert (claim.first, claim.counted) == (False, False)
    assert cap_count(ip, tiktok.id) == 0
    # and the claim now lasts as long as that report's window: a repeat without a query
    assert intake_claim(ip=ip, client_key="d" * 32, service_id=tiktok.id).first is False


@pytest.mark.django_db
def test_once_the_cache_has_held_claims_for_a_window_the_rows_are_not_read(
    tiktok, django_assert_num_queries, settings
):
    settings.REPORT_DEDUPE_WINDOW = 900
    cache.set(INTACT_KEY, int(time.time()) - 900 - 61, timeout=None)
    with django_assert_num_queries(0):
        claim = intake_claim(ip="203.0.113.7", client_key="e" * 32, service_id=tiktok.id)
    assert claim.first is True
    # Just inside the window (and its clock margin) the rows are still read.
    cache.set(INTACT_KEY, int(time.time()) - 900 - 59, timeout=None)
    with django_assert_num_queries(1):
        intake_claim(ip="203.0.113.7", client_key="f" * 32, service_id=tiktok.id)


@pytest.mark.django_db
def test_claims_made_while_the_cache_was_away_are_checked_once_it_is_back(
    api, tiktok, own_redis, monkeypatch
):
    # The cache has been up for hours, then stops answering (not restarted: it keeps its
    # data). A report taken meanwhile is claimed in this process only; once the cache is back
    # it must still be known as a repeat, though the cache never saw its claim.
    cache.set(INTACT_KEY, int(time.time()) - 3600, timeout=None)
    assert own_redis.process is not None
    own_redis.process.send_signal(signal.SIGSTOP)
    try:
        assert post(api, ip="192.0.2.10").status_code == 201
    finally:
        own_redis.process.send_signal(signal.SIGCONT)
    monkeypatch.setattr(abuse, "_cache_down_until", 0.0)  # its retry interval has passed
    again = post(api, ip="192.0.2.10")
    assert again.status_code == 200 and again.json()["counted"] is False
    assert Report.objects.count() == 1
    assert int(cache.get(INTACT_KEY)) >= int(time.time()) - 5  # restarted: rows read again


# --------------------------------------------------------------------------- the catalogue


@pytest.mark.django_db
def test_a_service_added_behind_the_copy_is_taken_at_once(api, tiktok):
    assert post(api).status_code == 201  # the process now holds the catalogue
    Service.objects.bulk_create(  # no signal: as if added by another process
        [Service(slug="zoom", name="Zoom", category="other", problems=["login", "other"])]
    )
    r = post(api, {**REPORT, "service": "zoom"})
    assert r.status_code == 201, r.content


@pytest.mark.django_db(transaction=True)
def test_a_service_removed_behind_the_copy_is_an_unknown_service(api, tiktok, gmail):
    # Committed as in production: the foreign key is checked when the insert commits.
    assert post(api).status_code == 201
    with connection.cursor() as cursor:  # as another process would, without our signal
        cursor.execute("DELETE FROM outages_service WHERE slug = 'gmail'")
    r = post(api, {**REPORT, "service": "gmail"}, ip="192.0.2.11")
    assert r.status_code == 400
    assert "service" in r.json()["fields"]
    # and the next try of the same client is judged afresh, not as a repeat
    assert post(api, {**REPORT, "service": "gmail"}, ip="192.0.2.11").status_code == 400


# -------------------------------------------------------------------------- group commit


def other_connection() -> psycopg.Connection:
    params = connection.get_connection_params()
    return psycopg.connect(**{k: v for k, v in params.items() if k != "cursor_factory"})


def wait_for(condition, what: str, limit: float = 20.0) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.01)


def race_reports(service_ids: list[int]) -> list[Report | BaseException]:
    """Store one report per service id from threads that collide: the first insert is held
    by a table lock until every other report has queued behind it."""
    results: list[Report | BaseException] = [RuntimeError("not run")] * len(service_ids)
    start = threading.Barrier(len(service_ids))

    def submit(i: int) -> None:
        try:
            start.wait()
            report = Report(
                service_id=service_ids[i],
                problem="login",
                country="US",
                source=Source.API,
                client_key=f"{i:032d}",
                created_at=timezone.now(),
            )
            results[i] = group_commit.store(report)
        except BaseException as exc:  # noqa: BLE001 - the test reads it
            results[i] = exc
        finally:
            connection.close()

    with other_connection() as locker:
        locker.execute("LOCK TABLE reports_report IN EXCLUSIVE MODE")
        threads = [threading.Thread(target=submit, args=(i,)) for i in range(len(service_ids))]
        for t in threads:
            t.start()
        wait_for(lambda: len(group_commit._queue) == len(service_ids) - 1, "the others queued")
        locker.rollback()  # the first insert goes through; the queue follows it
    for t in threads:
        t.join(timeout=30)
    return results


@pytest.mark.django_db(transaction=True)
def test_reports_arriving_during_an_insert_share_the_next_commit(tiktok):
    results = race_reports([tiktok.id] * 6)
    assert all(isinstance(r, Report) and r.pk for r in results), results
    ids = {r.pk for r in results if isinstance(r, Report)}
    assert len(ids) == 6 and ids == set(Report.objects.values_list("id", flat=True))
    # Rows of one statement share their inserting transaction: the first alone, then five.
    with connection.cursor() as cursor:
        cursor.execute("SELECT xmin::text, count(*) FROM reports_report GROUP BY 1 ORDER BY 2")
        assert [n for _, n in cursor.fetchall()] == [1, 5]
    assert group_commit._busy is False and group_commit._queue == []


@pytest.mark.django_db(transaction=True)
def test_a_bad_report_in_a_shared_commit_fails_only_its_own_request(tiktok):
    results = race_reports([tiktok.id, tiktok.id, 10**9, tiktok.id])
    bad = [r for r in results if isinstance(r, BaseException)]
    assert len(bad) == 1 and isinstance(bad[0], IntegrityError)
    assert results.index(bad[0]) == 2
    assert Report.objects.count() == 3


@pytest.mark.django_db
def test_inside_a_transaction_a_report_is_stored_by_that_transaction(tiktok):
    # pytest-django's `db` runs the test in a transaction: no one else may commit for it.
    assert connection.in_atomic_block
    report = group_commit.store(
        Report(
            service_id=tiktok.id,
            problem="login",
            country="US",
            source=Source.API,
            client_key=client_key_for("x"),
            created_at=timezone.now(),
        )
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT xmin::text = txid_current()::text FROM reports_report")
        assert cursor.fetchone() == (True,)
    assert report.pk is not None

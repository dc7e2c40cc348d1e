"""The single-report path: the abuse controls decided in one Redis script, the dedupe's
check against stored rows while the cache may have missed a claim, concurrent reports stored
by a shared commit, and the catalogue as each process keeps it."""

import json
import signal
import threading
import time
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import IntegrityError, connection
from django.utils import timezone

from outages.models import Service
from reports import abuse
from reports.abuse import INTACT_KEY, intake_claim
from reports.models import Recovery, Report, Source
from reports.services import client_key_for, group_commit, report_rows_insert
from tests.postgres import other_connection
from tests.redis import UNREACHABLE_CACHES as UNREACHABLE

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
    assert redis_ttl(INTACT_KEY) == -1  # and kept until the cache loses it again


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


def stored_alone(service: Service, n: int, comment: str = "") -> Report:
    return group_commit.store(
        Report(
            service_id=service.id,
            problem="login",
            country="BR",
            subdivision="BR-SP",
            comment=comment,
            source=Source.API,
            client_key=f"{n:032d}",
            counted=n % 2 == 0,
            created_at=timezone.now(),
        )
    )


def prepared_inserts() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements ORDER BY prepare_time")
        return [row[0] for row in cursor.fetchall() if "INSERT INTO reports_report" in row[0]]


@pytest.mark.django_db(transaction=True)
def test_a_single_report_is_inserted_by_one_statement_prepared_once_per_connection(tiktok):
    if connection.vendor != "postgresql":
        pytest.skip("prepared statements are PostgreSQL's")
    connection.close()  # a connection of this test's own: nothing prepared on it yet
    comment = "it's down; \\ 'quoted' — ünïcode ✓"
    reports = [stored_alone(tiktok, n, comment) for n in range(3)]
    assert len(prepared_inserts()) == 1  # the three used one statement, prepared by the first
    rows = Report.objects.order_by("id").values_list(
        "id", "client_key", "counted", "comment", "subdivision", "created_at", "source"
    )
    assert list(rows) == [
        (r.pk, r.client_key, r.counted, comment, "BR-SP", r.created_at, Source.API) for r in reports
    ]
    assert reports[0].created_at.utcoffset() == timedelta(0)


@pytest.mark.django_db(transaction=True)
def test_without_prepared_statements_a_report_is_stored_alike(tiktok, settings):
    if connection.vendor != "postgresql":
        pytest.skip("prepared statements are PostgreSQL's")
    connection.close()
    options = {**settings.DATABASES["default"]["OPTIONS"]}
    options.pop("prepare_threshold", None)  # as DATABASE_PREPARED_STATEMENTS=false leaves it
    connection.settings_dict["OPTIONS"] = options
    try:
        report = stored_alone(tiktok, 7, "no statement kept")
        assert prepared_inserts() == []
        assert Report.objects.get(pk=report.pk).comment == "no statement kept"
    finally:
        connection.close()
        connection.settings_dict["OPTIONS"] = settings.DATABASES["default"]["OPTIONS"]


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


# ------------------------------------------------- the same decisions without a shared cache

LOCAL_ONLY = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


def redis_ttl(key: str) -> int:
    client = cache._cache.get_client(key)  # type: ignore[attr-defined]
    return int(client.ttl(cache.make_and_validate_key(key)))


@pytest.mark.django_db
@pytest.mark.parametrize("caches", [LOCAL_ONLY, UNREACHABLE], ids=["no redis", "redis down"])
def test_without_the_shared_cache_the_claim_decides_alike(tiktok, settings, caches):
    settings.CACHES = caches
    if caches is LOCAL_ONLY:
        cache.clear()  # one memory per process, which other tests' counts may be in
    settings.RATE_LIMIT_REPORTS = 3
    settings.REPORT_ADDRESS_LIMIT = 1
    claim = intake_claim(ip="203.0.113.5", client_key="a" * 32, service_id=tiktok.id)
    assert claim == abuse.IntakeClaim(None, True, True)
    assert intake_claim(ip="203.0.113.5", client_key="a" * 32, service_id=tiktok.id) == (
        abuse.IntakeClaim(None, False, False)
    )
    # another client at another address: its own place under the cap
    other = intake_claim(ip="203.0.113.6", client_key="b" * 32, service_id=tiktok.id)
    assert other == abuse.IntakeClaim(None, True, True)
    # a third client at the first address: over that address's cap of 1
    third = intake_claim(ip="203.0.113.5", client_key="c" * 32, service_id=tiktok.id)
    assert third == abuse.IntakeClaim(None, True, False)
    limited = intake_claim(ip="203.0.113.5", client_key="d" * 32, service_id=tiktok.id)
    assert limited.retry_after is not None and limited.retry_after >= 1
    assert (limited.first, limited.counted) == (False, False)


@pytest.mark.django_db
def test_the_script_sets_the_windows_it_counts_in(tiktok, settings):
    settings.RATE_LIMIT_WINDOW = 60
    settings.REPORT_DEDUPE_WINDOW = 900
    settings.REPORT_ADDRESS_LIMIT = 0  # the cap off: no counter at all
    ip = "203.0.113.9"
    intake_claim(ip=ip, client_key="e" * 32, service_id=tiktok.id)
    start = abuse._window_start(60, time.time())
    assert redis_ttl(f"rl:report:{ip}:{start}") in (60, 61)
    assert redis_ttl(abuse.dedupe_key(client_key="e" * 32, service_id=tiktok.id)) in (899, 900)
    cap_key, _ = abuse._address_cap_key(ip=ip, service_id=tiktok.id)
    assert cache.get(cap_key) is None
    assert redis_ttl(INTACT_KEY) == -1  # the marker never expires by itself


@pytest.mark.django_db
def test_a_repeat_found_in_the_rows_keeps_the_claim_for_the_rest_of_its_window(tiktok, settings):
    settings.REPORT_DEDUPE_WINDOW = 900
    report_rows_insert(
        rows=[
            (
                tiktok.id,
                "login",
                "US",
                "",
                "",
                timezone.now() - timedelta(seconds=800),
                Source.API,
                "g" * 32,
            )
        ]
    )
    claim = intake_claim(ip="203.0.113.10", client_key="g" * 32, service_id=tiktok.id)
    assert claim == abuse.IntakeClaim(None, False, False)
    assert 95 <= redis_ttl(abuse.dedupe_key(client_key="g" * 32, service_id=tiktok.id)) <= 100


# ------------------------------------------------------------------------ recovery claims


@pytest.mark.django_db
def test_a_recovery_claim_is_once_per_client_and_capped_per_address(tiktok, settings):
    settings.REPORT_ADDRESS_LIMIT = 1
    ip = "203.0.113.20"
    assert abuse.recovery_claim(client_key="h" * 32, service_id=tiktok.id, ip=ip) == (True, True)
    assert abuse.recovery_claim(client_key="h" * 32, service_id=tiktok.id, ip=ip) == (False, False)
    assert abuse.recovery_claim(client_key="i" * 32, service_id=tiktok.id, ip=ip) == (True, False)
    settings.REPORT_ADDRESS_LIMIT = 0
    assert abuse.recovery_claim(client_key="j" * 32, service_id=tiktok.id, ip=ip) == (True, True)


@pytest.mark.django_db
def test_a_stored_recovery_the_cache_does_not_know_is_a_repeat(tiktok):
    Recovery.objects.create(service=tiktok, country="US", source=Source.API, client_key="k" * 32)
    assert abuse.recovery_claim(client_key="k" * 32, service_id=tiktok.id, ip="192.0.2.1") == (
        False,
        False,
    )


@pytest.mark.django_db
def test_recovery_claims_hold_in_process_while_redis_is_down(tiktok, settings, caplog):
    settings.CACHES = UNREACHABLE
    abuse.abuse_state_reset()
    settings.REPORT_ADDRESS_LIMIT = 1
    with caplog.at_level("WARNING", logger="reports.abuse"):
        first = abuse.recovery_claim(client_key="l" * 32, service_id=tiktok.id, ip="192.0.2.2")
    assert first == (True, True)
    assert caplog.records[0].getMessage().startswith("dedupe: cache unavailable")
    assert abuse.recovery_claim(client_key="l" * 32, service_id=tiktok.id, ip="192.0.2.2") == (
        False,
        False,
    )
    assert abuse.recovery_claim(client_key="m" * 32, service_id=tiktok.id, ip="192.0.2.2") == (
        True,
        False,
    )


@pytest.mark.django_db(transaction=True)
def test_a_recovery_that_cannot_be_stored_gives_its_claim_back(tiktok):
    from reports.services import recovery_submit
    from reports.validation import CleanRecovery

    gone = CleanRecovery(service_id=10**9, country="US", subdivision="")
    with pytest.raises(IntegrityError):
        recovery_submit(recovery=gone, source=Source.API, client_key="n" * 32, ip="192.0.2.3")
    assert cache.get(f"rv:{10**9}:{'n' * 32}") is None

"""The single-report path: the rate limit, the dedupe, the address cap and the insert decided by
one statement on PostgreSQL (and the same decisions one at a time elsewhere), the dedupe's check
against the stored rows when the claims are gone, a crash that empties the claims, real races
on one address and one client, and the catalogue as each process keeps it."""

import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from django.db import DataError, IntegrityError, connection
from django.utils import timezone

from outages.models import Service
from reports import abuse, services
from reports.models import Claim, Recovery, Report, Source
from reports.services import Submission, report_accept, report_rows_insert
from reports.validation import CleanReport
from tests.postgres import OwnPostgres, other_connection, own_postgres_in_use
from tests.redis import UNREACHABLE_CACHES as UNREACHABLE

pytestmark = pytest.mark.usefixtures("one_window")

REPORT = {"service": "tiktok", "problem": "login", "country": "US"}
Accept = Callable[..., Submission]
# Both ways a single report is judged: the one statement (PostgreSQL) and one control after
# the other (every other database); they must decide alike.
PATHS = {
    "one statement": services._accept_in_one_statement,
    "one at a time": services._accept_one_at_a_time,
}


@pytest.fixture(params=list(PATHS))
def accept(request) -> Accept:
    return PATHS[request.param]


def post(api, body=REPORT, ip="198.51.100.7"):
    return api.post(
        "/api/v1/reports", data=json.dumps(body), content_type="application/json", REMOTE_ADDR=ip
    )


def cap_count(ip: str, service_id: int) -> int:
    key, _ = abuse.address_cap_key(ip=ip, service_id=service_id)
    found = Claim.objects.filter(key=key).values_list("count", flat=True).first()
    return found or 0


def report(service: Service, country: str = "US", comment: str = "") -> CleanReport:
    return CleanReport(service.id, "login", country, "", comment)


def stored_row(service: Service, client_key: str, age: float = 0.0) -> None:
    at = timezone.now() - timedelta(seconds=age)
    report_rows_insert(rows=[(service.id, "login", "US", "", "", at, Source.API, client_key)])


def outcome(s: Submission) -> tuple[bool, bool, int | None]:
    return (s.report is not None, s.counted, s.retry_after)


# ------------------------------------------------------------------------- the decisions


@pytest.mark.django_db
def test_the_controls_count_limit_and_cap_in_their_order(accept, tiktok, settings):
    settings.RATE_LIMIT_REPORTS = 4
    settings.REPORT_ADDRESS_LIMIT = 1
    ip = "203.0.113.5"

    def send(key: str) -> tuple[bool, bool, int | None]:
        return outcome(accept(report=report(tiktok), source=Source.API, client_key=key, ip=ip))

    assert send("a" * 32) == (True, True, None)
    assert send("a" * 32) == (False, False, None)  # a repeat: nothing stored
    assert send("b" * 32) == (True, False, None)  # over the address's cap: stored, not counted
    assert send("c" * 32) == (True, False, None)
    stored, counted, retry_after = send("d" * 32)  # the fifth request of the window
    assert (stored, counted) == (False, False)
    assert retry_after is not None and retry_after >= 1  # exact values: test_abuse_pinned
    assert Report.objects.count() == 3
    assert sorted(Report.objects.values_list("client_key", "counted")) == [
        ("a" * 32, True),
        ("b" * 32, False),
        ("c" * 32, False),
    ]
    # The limited request claimed nothing: the same client is a first report once allowed.
    settings.RATE_LIMIT_REPORTS = 10
    abuse.abuse_state_reset()
    assert send("d" * 32) == (True, False, None)
    assert cap_count(ip, tiktok.id) == 4  # a, b, c and d; the limited attempt took no place


@pytest.mark.django_db
def test_a_stored_report_the_claims_lost_is_a_repeat_and_takes_no_place(accept, tiktok, settings):
    settings.REPORT_DEDUPE_WINDOW = 900
    ip = "203.0.113.6"
    stored_row(tiktok, "e" * 32, age=100)  # stored before a crash emptied the claims
    submission = accept(report=report(tiktok), source=Source.API, client_key="e" * 32, ip=ip)
    assert outcome(submission) == (False, False, None)
    assert cap_count(ip, tiktok.id) == 0
    assert Report.objects.count() == 1
    # The claim now lasts as long as that report's window: 900 s less its 100.
    key = abuse.dedupe_key(client_key="e" * 32, service_id=tiktok.id)
    left = Claim.objects.get(key=key).expires - time.time()
    assert 795 <= left <= 800


@pytest.mark.django_db
def test_a_report_older_than_the_window_is_no_repeat(accept, tiktok, settings):
    settings.REPORT_DEDUPE_WINDOW = 900
    stored_row(tiktok, "f" * 32, age=901)
    submission = accept(
        report=report(tiktok), source=Source.API, client_key="f" * 32, ip="203.0.113.7"
    )
    assert outcome(submission) == (True, True, None)


@pytest.mark.django_db
def test_the_rows_kept_run_to_the_ends_of_their_windows(accept, tiktok, settings):
    settings.REPORT_DEDUPE_WINDOW = 900
    settings.REPORT_ADDRESS_LIMIT = 0  # the cap off: no counter at all
    ip = "203.0.113.9"
    before = time.time()
    accept(report=report(tiktok), source=Source.API, client_key="g" * 32, ip=ip)
    after = time.time()
    rate = Claim.objects.get(key=f"rl:report:{ip}")
    assert rate.count == 1
    window = settings.RATE_LIMIT_WINDOW  # 10^9 s: no boundary during the test
    assert rate.expires == abuse._window_start(window, after) + window
    claim = Claim.objects.get(key=abuse.dedupe_key(client_key="g" * 32, service_id=tiktok.id))
    assert before + 900 <= claim.expires <= after + 900
    assert Claim.objects.count() == 2


@pytest.mark.django_db
def test_the_stored_row_holds_every_field(accept, tiktok):
    comment = "it's down; \\ 'quoted' — ünïcode ✓"
    clean = CleanReport(tiktok.id, "upload", "BR", "BR-SP", comment)
    got = accept(report=clean, source=Source.API, client_key="h" * 32, ip="203.0.113.11").report
    assert got is not None and got.pk is not None
    row = Report.objects.values_list(
        "service_id", "problem", "country", "subdivision", "comment", "source", "client_key"
    ).get(pk=got.pk)
    assert row == (tiktok.id, "upload", "BR", "BR-SP", comment, Source.API, "h" * 32)
    # The answer's report is the row as stored.
    answered = (got.service_id, got.problem, got.country, got.subdivision, got.comment)
    assert (*answered, got.source, got.client_key) == row
    assert got.counted is True and got._state.adding is False
    assert Report.objects.get(pk=got.pk).created_at == got.created_at
    assert got.created_at.utcoffset() == timedelta(0)


@pytest.mark.django_db
def test_a_refused_address_is_answered_alike_without_the_database(accept, tiktok, settings):
    settings.RATE_LIMIT_REPORTS = 1
    ip = "203.0.113.13"
    send = lambda key: accept(report=report(tiktok), source=Source.API, client_key=key, ip=ip)  # noqa: E731
    assert outcome(send("p" * 32)) == (True, True, None)
    limited = send("q" * 32)
    assert limited.report is None and limited.retry_after is not None
    again = send("r" * 32)  # remembered: the database is not asked
    assert outcome(again) == (False, False, limited.retry_after)
    assert Claim.objects.get(key=f"rl:report:{ip}").count == 2


@pytest.mark.django_db
def test_with_the_cache_unreachable_the_statement_decides_alike(tiktok, settings):
    settings.CACHES = UNREACHABLE
    settings.REPORT_ADDRESS_LIMIT = 1
    key, ip = "i" * 32, "203.0.113.12"
    first = report_accept(report=report(tiktok), source=Source.API, client_key=key, ip=ip)
    again = report_accept(report=report(tiktok), source=Source.API, client_key=key, ip=ip)
    other = report_accept(report=report(tiktok), source=Source.API, client_key="j" * 32, ip=ip)
    assert [outcome(s) for s in (first, again, other)] == [
        (True, True, None),
        (False, False, None),
        (True, False, None),
    ]


# ------------------------------------------------------- one statement, one commit, no trace


@pytest.mark.django_db(transaction=True)
def test_a_report_and_its_claims_are_one_statement_prepared_once_per_connection(tiktok):
    connection.close()  # a connection of this test's own: nothing prepared on it yet
    for n in range(3):
        report_accept(
            report=report(tiktok), source=Source.API, client_key=f"{n:032d}", ip=f"192.0.2.{n}"
        )
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [r[0] for r in cursor.fetchall() if "INSERT INTO reports_report" in r[0]]
        assert len(prepared) == 1  # the three used one statement, prepared by the first
        # Each report's row and its three claims were written by one transaction.
        cursor.execute(
            "SELECT r.client_key, count(DISTINCT c.key) FROM reports_report r "
            "JOIN reports_claim c ON c.xmin::text = r.xmin::text GROUP BY 1 ORDER BY 1"
        )
        assert cursor.fetchall() == [(f"{n:032d}", 3) for n in range(3)]


@pytest.mark.django_db(transaction=True)
def test_without_prepared_statements_a_report_is_stored_alike(tiktok):
    connection.close()
    # connection.settings_dict is settings.DATABASES["default"] itself: keep the original.
    saved = connection.settings_dict["OPTIONS"]
    options = {**saved}
    options.pop("prepare_threshold", None)  # as DATABASE_PREPARED_STATEMENTS=false leaves it
    connection.settings_dict["OPTIONS"] = options
    try:
        got = report_accept(
            report=report(tiktok, comment="no statement kept"),
            source=Source.API,
            client_key="k" * 32,
            ip="192.0.2.9",
        ).report
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_prepared_statements")
            assert cursor.fetchone() == (0,)
        assert got is not None
        assert Report.objects.get(pk=got.pk).comment == "no statement kept"
    finally:
        connection.close()
        connection.settings_dict["OPTIONS"] = saved


@pytest.mark.django_db(transaction=True)
def test_a_report_that_cannot_be_stored_leaves_no_claim(accept):
    gone = CleanReport(10**9, "login", "US", "", "")  # no such service: the insert fails
    with pytest.raises(IntegrityError):
        accept(report=gone, source=Source.API, client_key="l" * 32, ip="192.0.2.20")
    assert Report.objects.count() == 0
    assert Claim.objects.count() == 0  # nor the rate limit's count: the request changed nothing


@pytest.mark.django_db
def test_inside_a_transaction_a_failed_report_leaves_the_transaction_usable(tiktok):
    # pytest-django's `db` runs the test in a transaction: a failed statement must not end it.
    assert connection.in_atomic_block
    # country has two characters in the table: three fail the statement at once (DataError;
    # a foreign key would be checked only when the test's transaction ends).
    bad = CleanReport(tiktok.id, "login", "USA", "", "")
    with pytest.raises(DataError):
        report_accept(report=bad, source=Source.API, client_key="m" * 32, ip="192.0.2.21")
    assert Report.objects.count() == 0
    ok = report_accept(
        report=report(tiktok), source=Source.API, client_key="m" * 32, ip="192.0.2.21"
    )
    assert outcome(ok) == (True, True, None)


# ------------------------------------------------------------------------------ real races


def race(n: int, submit: Callable[[int], Submission]) -> list[Submission | BaseException]:
    """Run submit(0..n-1) from n threads that collide: the claims table is locked by another
    connection until every thread waits on it, then all go at once."""
    results: list[Submission | BaseException] = [RuntimeError("not run")] * n

    def run(i: int) -> None:
        try:
            results[i] = submit(i)
        except BaseException as exc:  # noqa: BLE001 - the test reads it
            results[i] = exc
        finally:
            connection.close()

    with other_connection() as locker:
        locker.execute("LOCK TABLE reports_claim IN ACCESS EXCLUSIVE MODE")
        threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        with other_connection(autocommit=True) as watcher:
            deadline = time.monotonic() + 20
            while True:
                waiting = watcher.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND query LIKE '%%reports_claim%%'"
                ).fetchone()
                if waiting is not None and waiting[0] >= n:
                    break
                assert time.monotonic() < deadline, "the threads never all waited"
                time.sleep(0.01)
        locker.rollback()
    for t in threads:
        t.join(timeout=30)
    return results


@pytest.mark.django_db(transaction=True)
def test_one_address_racing_itself_gets_exactly_its_limit(tiktok, settings):
    settings.RATE_LIMIT_REPORTS = 5
    settings.REPORT_ADDRESS_LIMIT = 3
    results = race(
        12,
        lambda i: report_accept(
            report=report(tiktok), source=Source.API, client_key=f"{i:032d}", ip="192.0.2.30"
        ),
    )
    assert not [r for r in results if isinstance(r, BaseException)], results
    kinds = Counter(
        "limited" if r.retry_after else ("counted" if r.counted else "stored")
        for r in results
        if isinstance(r, Submission)
    )
    assert kinds == {"limited": 7, "counted": 3, "stored": 2}
    assert Report.objects.count() == 5
    assert Report.objects.filter(counted=True).count() == 3


@pytest.mark.django_db(transaction=True)
def test_one_client_racing_itself_is_stored_once(tiktok):
    results = race(
        8,
        lambda i: report_accept(
            report=report(tiktok), source=Source.API, client_key="n" * 32, ip=f"192.0.2.{40 + i}"
        ),
    )
    stored = [r for r in results if isinstance(r, Submission) and r.report is not None]
    assert len(stored) == 1 and len(results) == 8
    assert Report.objects.count() == 1


# --------------------------------------------------------------------- a crash of the database


@pytest.fixture
def own_database(django_db_blocker) -> Iterator[OwnPostgres]:
    with own_postgres_in_use("outages_claims", django_db_blocker) as pg:
        yield pg


def test_a_crash_empties_the_claims_and_the_stored_reports_still_dedupe(own_database):
    tiktok = Service.objects.get(slug="tiktok")
    clean = report(tiktok)
    ip, key = "192.0.2.60", "o" * 32
    assert outcome(report_accept(report=clean, source=Source.API, client_key=key, ip=ip)) == (
        True,
        True,
        None,
    )
    assert Claim.objects.count() == 3
    own_database.stop()  # immediate: as a crash, the unlogged table is emptied on restart
    own_database.start()
    connection.close()
    assert Claim.objects.count() == 0
    again = report_accept(report=clean, source=Source.API, client_key=key, ip=ip)
    assert outcome(again) == (False, False, None)
    assert Report.objects.count() == 1


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
def test_a_stored_recovery_the_claims_do_not_know_is_a_repeat(tiktok):
    Recovery.objects.create(service=tiktok, country="US", source=Source.API, client_key="k" * 32)
    assert abuse.recovery_claim(client_key="k" * 32, service_id=tiktok.id, ip="192.0.2.1") == (
        False,
        False,
    )


@pytest.mark.django_db(transaction=True)
def test_a_recovery_that_cannot_be_stored_gives_its_claim_back(tiktok):
    from reports.services import recovery_submit
    from reports.validation import CleanRecovery

    gone = CleanRecovery(service_id=10**9, country="US", subdivision="")
    with pytest.raises(IntegrityError):
        recovery_submit(recovery=gone, source=Source.API, client_key="n" * 32, ip="192.0.2.3")
    assert Claim.objects.count() == 0

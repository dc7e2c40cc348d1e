"""The abuse controls pinned: exact Retry-After values and limits, the rows they keep and when
those expire, what a failed insert gives back, that the cache plays no part, and which
X-Forwarded-For entry is the client's. Expected values are written as numbers.

The clock the controls read is set per test (a stub of `time` in reports.abuse only): the
windows are fixed on the clock, so exact values need a known "now"."""

from datetime import timedelta

import pytest
from django.db import DataError, connection, transaction
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from common.http import client_ip
from reports import abuse
from reports.abuse import (
    address_cap_claim,
    claims_expire,
    dedupe_claim,
    dedupe_key,
    rate_limit_retry_after,
)
from reports.models import Claim, Recovery, Report
from reports.services import report_submit
from reports.validation import CleanReport
from tests.redis import UNREACHABLE_CACHES as UNREACHABLE

pytestmark = pytest.mark.django_db


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def time(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    c = Clock(6000.0)  # a multiple of the 60 s window
    monkeypatch.setattr(abuse, "time", c)
    return c


@pytest.fixture
def limits(settings) -> None:
    settings.RATE_LIMIT_WINDOW = 60
    settings.RATE_LIMIT_REPORTS = 3
    settings.REPORT_DEDUPE_WINDOW = 900
    settings.REPORT_ADDRESS_LIMIT = 2


def row(key: str) -> tuple[int, float] | None:
    found = Claim.objects.filter(key=key).values_list("count", "expires").first()
    return None if found is None else (found[0], found[1])


@pytest.mark.parametrize(
    ("now", "retry_after"),
    [
        (6000.0, 60),  # the window's first instant: all of it to wait
        (6000.25, 60),
        (6029.5, 31),
        (6030.0, 30),
        (6030.001, 30),
        (6059.0, 1),
        (6059.9999, 1),  # never 0: "retry now" would be refused again
    ],
)
def test_retry_after_is_the_rest_of_the_window_rounded_up(clock, limits, now, retry_after):
    clock.now = now
    assert [rate_limit_retry_after(ip="203.0.113.7") for _ in range(3)] == [None, None, None]
    assert rate_limit_retry_after(ip="203.0.113.7") == retry_after
    assert rate_limit_retry_after(ip="203.0.113.7") == retry_after


def test_the_limit_counts_per_address_window_and_scope(clock, limits):
    for _ in range(3):
        assert rate_limit_retry_after(ip="203.0.113.7") is None
    assert rate_limit_retry_after(ip="203.0.113.7") == 60
    assert rate_limit_retry_after(ip="203.0.113.8") is None
    assert rate_limit_retry_after(ip="203.0.113.7", scope="form") is None
    assert row("rl:report:203.0.113.7") == (4, 6060.0)  # until the window's end
    assert row("rl:report:203.0.113.8") == (1, 6060.0)
    assert row("rl:form:203.0.113.7") == (1, 6060.0)
    clock.now = 6059.9
    assert rate_limit_retry_after(ip="203.0.113.7") == 1
    clock.now = 6060.0  # the next window starts from nothing
    assert rate_limit_retry_after(ip="203.0.113.7") is None
    assert row("rl:report:203.0.113.7") == (1, 6120.0)


def test_ipv6_addresses_of_one_64_share_a_limit(clock, limits):
    for i in range(3):
        assert rate_limit_retry_after(ip=f"2001:db8:1:2::{i + 1}") is None
    assert rate_limit_retry_after(ip="2001:db8:1:2:ffff::1") == 60
    assert rate_limit_retry_after(ip="2001:db8:1:3::1") is None


def test_a_refused_address_is_answered_without_the_database_until_its_window_ends(clock, limits):
    for _ in range(4):
        rate_limit_retry_after(ip="203.0.113.7")
    with CaptureQueriesContext(connection) as queries:
        assert rate_limit_retry_after(ip="203.0.113.7") == 60
        clock.now = 6059.5
        assert rate_limit_retry_after(ip="203.0.113.7") == 1
    assert len(queries) == 0
    assert row("rl:report:203.0.113.7") == (4, 6060.0)  # the remembered ones were not counted
    clock.now = 6060.0
    with CaptureQueriesContext(connection) as queries:
        assert rate_limit_retry_after(ip="203.0.113.7") is None
    assert len(queries) == 1


def test_the_memory_of_refused_addresses_stays_within_its_size(clock, limits, monkeypatch):
    monkeypatch.setattr(abuse, "REFUSED_MAX_KEYS", 3)
    for i in range(5):
        for _ in range(4):
            rate_limit_retry_after(ip=f"203.0.113.{i}")
        assert len(abuse._refused) <= 3
    # Forgotten or not, a refused address stays refused: the table still counts it.
    assert all(rate_limit_retry_after(ip=f"203.0.113.{i}") == 60 for i in range(5))


def test_dedupe_claims_once_per_client_and_service(clock, limits, tiktok, gmail):
    assert dedupe_claim(client_key="a" * 32, service_id=tiktok.id) is True
    assert dedupe_claim(client_key="a" * 32, service_id=tiktok.id) is False
    assert dedupe_claim(client_key="b" * 32, service_id=tiktok.id) is True
    assert dedupe_claim(client_key="a" * 32, service_id=gmail.id) is True
    key = dedupe_key(client_key="a" * 32, service_id=tiktok.id)
    assert key == f"dd:{tiktok.id}:{'a' * 32}"
    assert row(key) == (1, 6900.0)
    clock.now = 6899.0
    assert dedupe_claim(client_key="a" * 32, service_id=tiktok.id) is False
    clock.now = 6900.0  # the claim made at 6000 has run out
    assert dedupe_claim(client_key="a" * 32, service_id=tiktok.id) is True
    assert row(key) == (1, 7800.0)


def test_a_claim_the_table_lost_is_checked_against_the_stored_reports(limits, tiktok):
    report = CleanReport(tiktok.id, "login", "US", "", "")
    assert report_submit(report=report, source="web", client_key="c" * 32, ip="203.0.113.7")
    stored = Report.objects.get()
    Claim.objects.all().delete()  # a crash emptied the claims
    assert dedupe_claim(client_key="c" * 32, service_id=tiktok.id) is False
    # The claim now lasts as long as the stored report's window.
    expires = row(dedupe_key(client_key="c" * 32, service_id=tiktok.id))
    assert expires == (1, stored.created_at.timestamp() + 900)
    # A report older than the window is no repeat.
    Report.objects.update(created_at=stored.created_at.replace(year=2020))
    Claim.objects.all().delete()
    assert dedupe_claim(client_key="c" * 32, service_id=tiktok.id) is True


def test_address_cap_counts_exactly_its_limit_and_gives_places_back(clock, limits, tiktok, gmail):
    ip = "198.51.100.4"
    assert [address_cap_claim(ip=ip, service_id=tiktok.id) for _ in range(3)] == [
        True,
        True,
        False,
    ]
    assert address_cap_claim(ip=ip, service_id=gmail.id) is True
    key = f"ac:{tiktok.id}:{ip}"
    assert row(key) == (3, 6300.0)  # 900 s windows: 6000 falls in the one from 5400
    clock.now = 6300.0  # a new window counts from one
    assert [address_cap_claim(ip=ip, service_id=tiktok.id) for _ in range(3)] == [
        True,
        True,
        False,
    ]
    assert row(key) == (3, 7200.0)


def test_address_cap_off_at_zero(clock, limits, settings, tiktok):
    settings.REPORT_ADDRESS_LIMIT = 0
    assert all(address_cap_claim(ip="198.51.100.4", service_id=tiktok.id) for _ in range(5))
    assert Claim.objects.count() == 0
    settings.REPORT_ADDRESS_LIMIT = 1
    assert address_cap_claim(ip="198.51.100.4", service_id=tiktok.id) is True
    assert address_cap_claim(ip="198.51.100.4", service_id=tiktok.id) is False


def test_a_failed_insert_gives_back_the_claim_and_the_place(limits, tiktok):
    # country has two characters in the table: three fail the insert itself (DataError).
    bad = CleanReport(tiktok.id, "login", "USA", "", "")
    ip, key = "198.51.100.9", "d" * 32
    with pytest.raises(DataError), transaction.atomic():
        report_submit(report=bad, source="web", client_key=key, ip=ip)
    assert Report.objects.count() == 0
    assert Claim.objects.count() == 0  # the claim and the cap's count went with the insert
    good = CleanReport(tiktok.id, "login", "US", "", "")
    submission = report_submit(report=good, source="web", client_key=key, ip=ip)
    assert submission.report is not None and submission.counted is True


def test_a_failed_insert_over_the_cap_releases_no_place(limits, settings, tiktok):
    settings.REPORT_ADDRESS_LIMIT = 1
    ip = "198.51.100.10"
    good = CleanReport(tiktok.id, "login", "US", "", "")
    assert report_submit(report=good, source="web", client_key="e" * 32, ip=ip).counted is True
    bad = CleanReport(tiktok.id, "login", "USA", "", "")
    with pytest.raises(DataError), transaction.atomic():
        report_submit(report=bad, source="web", client_key="f" * 32, ip=ip)
    # The failed report went over the cap (2 of 1); its count went with the insert.
    assert Claim.objects.get(key=f"ac:{tiktok.id}:{ip}").count == 1
    assert row(dedupe_key(client_key="f" * 32, service_id=tiktok.id)) is None


def test_with_the_cache_unreachable_the_limits_hold_across_processes(
    clock, limits, settings, tiktok
):
    settings.CACHES = UNREACHABLE
    assert [rate_limit_retry_after(ip="203.0.113.7") for _ in range(3)] == [None] * 3
    abuse.abuse_state_reset()  # another process: it remembers nothing, the table does
    assert rate_limit_retry_after(ip="203.0.113.7") == 60
    assert dedupe_claim(client_key="g" * 32, service_id=tiktok.id) is True
    assert dedupe_claim(client_key="g" * 32, service_id=tiktok.id) is False
    ip = "198.51.100.4"
    assert [address_cap_claim(ip=ip, service_id=tiktok.id) for _ in range(3)] == [
        True,
        True,
        False,
    ]


def test_only_claims_whose_window_has_passed_are_deleted(clock, limits, tiktok):
    rate_limit_retry_after(ip="203.0.113.7")  # until 6060
    dedupe_claim(client_key="h" * 32, service_id=tiktok.id)  # until 6900
    assert claims_expire(now=6059.9) == 0
    assert claims_expire(now=6060.0) == 1
    assert list(Claim.objects.values_list("key", flat=True)) == [f"dd:{tiktok.id}:{'h' * 32}"]
    clock.now = 6900.0
    assert claims_expire() == 1
    assert Claim.objects.count() == 0


@pytest.mark.parametrize(
    ("hops", "header", "ip"),
    [
        (0, "6.6.6.6", "10.0.0.1"),  # no proxy trusted: the header is the client's own words
        (1, "203.0.113.9", "203.0.113.9"),
        (1, "6.6.6.6, 203.0.113.9", "203.0.113.9"),  # the leftmost entry is client-controlled
        (2, "6.6.6.6, 203.0.113.9, 198.51.100.1", "203.0.113.9"),
        (2, "6.6.6.6,203.0.113.9", "6.6.6.6"),
        (1, " 203.0.113.9 , ", "203.0.113.9"),  # padding and empty entries are not hops
        (2, "203.0.113.9", "10.0.0.1"),  # fewer entries than proxies: not from them
        (1, "", "10.0.0.1"),
    ],
)
def test_client_ip_takes_the_entry_the_trusted_proxy_added(settings, hops, header, ip):
    settings.TRUSTED_PROXY_COUNT = hops
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=header)
    assert client_ip(request) == ip


def test_a_failed_lookup_releases_the_claim(limits):
    # An id the table cannot be asked about: the claim is taken, the lookup fails.
    with pytest.raises(ValueError), transaction.atomic():
        dedupe_claim(client_key="j" * 32, service_id="x")  # type: ignore[arg-type]
    assert row(dedupe_key(client_key="j" * 32, service_id="x")) is None  # type: ignore[arg-type]


def test_a_repeat_keeps_its_claim_for_the_rest_of_its_window(limits, tiktok):
    report = CleanReport(tiktok.id, "login", "US", "", "")
    assert report_submit(report=report, source="web", client_key="k" * 32, ip="203.0.113.7")
    Report.objects.update(created_at=timezone.now() - timedelta(seconds=100))
    Claim.objects.all().delete()
    assert dedupe_claim(client_key="k" * 32, service_id=tiktok.id) is False
    # 900 s less the stored report's 100: about 800 left, not a new window.
    found = row(dedupe_key(client_key="k" * 32, service_id=tiktok.id))
    assert found is not None
    assert 795 <= found[1] - timezone.now().timestamp() <= 800


# ------------------------------------------------------------------------ recovery claims


def test_a_recovery_claim_and_its_cap_last_their_windows(clock, limits, tiktok):
    ip = "198.51.100.70"
    assert abuse.recovery_claim(client_key="m" * 32, service_id=tiktok.id, ip=ip) == (True, True)
    # The claim for the dedupe window (900 s), the cap's counter to its fixed window's end.
    assert row(f"rv:{tiktok.id}:{'m' * 32}") == (1, 6900.0)
    assert row(f"rvc:{tiktok.id}:{ip}") == (1, 6300.0)
    assert abuse.recovery_claim(client_key="m" * 32, service_id=tiktok.id, ip=ip) == (
        False,
        False,
    )
    assert abuse.recovery_claim(client_key="n" * 32, service_id=tiktok.id, ip=ip) == (True, True)
    assert abuse.recovery_claim(client_key="o" * 32, service_id=tiktok.id, ip=ip) == (True, False)
    assert row(f"rvc:{tiktok.id}:{ip}") == (3, 6300.0)
    clock.now = 6899.0
    assert abuse.recovery_claim(client_key="m" * 32, service_id=tiktok.id, ip=ip) == (
        False,
        False,
    )
    clock.now = 6900.0  # the claim's window has passed, and the cap's (to 6300) long before
    assert abuse.recovery_claim(client_key="m" * 32, service_id=tiktok.id, ip=ip) == (True, True)
    assert row(f"rv:{tiktok.id}:{'m' * 32}") == (1, 7800.0)
    assert row(f"rvc:{tiktok.id}:{ip}") == (1, 7200.0)


def test_a_stored_recovery_the_table_lost_is_a_repeat(clock, limits, tiktok):
    Recovery.objects.create(service=tiktok, country="US", source="web", client_key="p" * 32)
    assert abuse.recovery_claim(client_key="p" * 32, service_id=tiktok.id, ip="198.51.100.7") == (
        False,
        False,
    )


def test_a_failed_recovery_lookup_releases_the_claim(limits):
    # An id the table cannot be asked about: the claim is taken, the lookup fails.
    with pytest.raises(ValueError), transaction.atomic():
        abuse.recovery_claim(client_key="p" * 32, service_id="x", ip="198.51.100.73")  # type: ignore[arg-type]
    assert row(f"rv:x:{'p' * 32}") is None


def test_the_scheduler_sweeps_expired_claims_every_minute(settings):
    from config.celery import app as celery_app

    celery_app.loader.import_default_modules()  # what a worker does first: finds reports.tasks
    (entry,) = [
        e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"].startswith("reports.")
    ]
    assert (entry["task"], entry["schedule"]) == ("reports.tasks.claims_expire_task", 60.0)
    Claim.objects.bulk_create(
        [Claim(key="rl:report:gone", count=3, expires=1.0), Claim(key="kept", count=1, expires=9e9)]
    )
    assert celery_app.tasks[entry["task"]].apply().get() == 1
    assert celery_app.tasks[entry["task"]].apply().get() == 0  # safe to run twice
    assert list(Claim.objects.values_list("key", flat=True)) == ["kept"]


def test_a_submission_is_one_transaction_without_savepoints_of_its_claims(limits, tiktok):
    # The test runs inside a transaction, so report_submit's own is a savepoint; the claims
    # join it rather than adding two round trips each for savepoints of their own.
    from reports.services import recovery_submit
    from reports.validation import CleanRecovery

    with CaptureQueriesContext(connection) as queries:
        report_submit(
            report=CleanReport(tiktok.id, "login", "US", "", ""),
            source="web",
            client_key="r" * 32,
            ip="198.51.100.80",
        )
        recovery_submit(
            recovery=CleanRecovery(tiktok.id, "US", ""),
            source="web",
            client_key="r" * 32,
            ip="198.51.100.80",
        )
    savepoints = [q["sql"] for q in queries if q["sql"].startswith("SAVEPOINT")]
    assert len(savepoints) == 2  # report_submit's and recovery_submit's, none of the claims'

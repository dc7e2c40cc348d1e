"""The abuse controls pinned: exact Retry-After values and limits, the fallback when the cache
is unreachable (a closed port, not a stand-in), what a failed insert gives back, and which
X-Forwarded-For entry is the client's. Expected values are written as numbers.

The clock the controls read is set per test (a stub of `time` in reports.abuse only): the
windows are fixed on the clock, so exact values need a known "now"."""

import logging
import time
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import DataError, transaction
from django.test import RequestFactory
from django.utils import timezone

from common.http import client_ip
from reports import abuse
from reports.abuse import (
    address_cap_claim,
    address_cap_release,
    dedupe_claim,
    dedupe_key,
    dedupe_release,
    rate_limit_retry_after,
)
from reports.models import Report
from reports.services import report_submit
from reports.validation import CleanReport
from tests.redis import UNREACHABLE_CACHES as UNREACHABLE


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now
        self.mono = 1000.0

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.mono


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


def ttl(key: str) -> int:
    client = cache._cache.get_client(key)  # type: ignore[attr-defined]
    return int(client.ttl(cache.make_and_validate_key(key)))


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
    key = "rl:report:203.0.113.7:6000"
    assert cache.get(key) == 4
    assert 60 <= ttl(key) <= 61  # the window and a second
    clock.now = 6060.0  # the next window starts from nothing
    assert rate_limit_retry_after(ip="203.0.113.7") is None
    assert cache.get("rl:report:203.0.113.7:6060") == 1


def test_ipv6_addresses_of_one_64_share_a_limit(clock, limits):
    for i in range(3):
        assert rate_limit_retry_after(ip=f"2001:db8:1:2::{i + 1}") is None
    assert rate_limit_retry_after(ip="2001:db8:1:2:ffff::1") == 60
    assert rate_limit_retry_after(ip="2001:db8:1:3::1") is None


def test_a_counter_gone_between_add_and_incr_starts_again_at_one(clock):
    # A timeout of 0 makes the cache drop the key right after the add: the incr then finds
    # nothing, as when the key expires or is evicted between the two calls.
    assert abuse._cache_incr("rl:test:gone", 0) == 1
    assert abuse._cache_incr("rl:test:kept", 61) == 1
    assert abuse._cache_incr("rl:test:kept", 61) == 2
    assert 60 <= ttl("rl:test:kept") <= 61


def test_decr_of_an_expired_counter_is_nothing(clock):
    abuse._cache_decr("ac:missing")
    assert cache.get("ac:missing") is None


@pytest.mark.django_db
def test_dedupe_claims_once_per_client_and_service(clock, limits, tiktok, gmail):
    assert dedupe_claim(client_key="a" * 32, service_id=tiktok.id) is True
    assert dedupe_claim(client_key="a" * 32, service_id=tiktok.id) is False
    assert dedupe_claim(client_key="b" * 32, service_id=tiktok.id) is True
    assert dedupe_claim(client_key="a" * 32, service_id=gmail.id) is True
    key = dedupe_key(client_key="a" * 32, service_id=tiktok.id)
    assert key == f"dd:{tiktok.id}:{'a' * 32}"
    assert 899 <= ttl(key) <= 900
    dedupe_release(client_key="a" * 32, service_id=tiktok.id)
    assert dedupe_claim(client_key="a" * 32, service_id=tiktok.id) is True


@pytest.mark.django_db
def test_a_claim_the_cache_forgot_is_checked_against_the_stored_reports(limits, tiktok):
    report = CleanReport(tiktok.id, "login", "US", "", "")
    assert report_submit(report=report, source="web", client_key="c" * 32, ip="203.0.113.7")
    stored = Report.objects.get()
    Report.objects.filter(id=stored.id).update(created_at=stored.created_at.replace(microsecond=0))
    cache.clear()  # the cache restarted empty
    assert dedupe_claim(client_key="c" * 32, service_id=tiktok.id) is False
    # The claim now lasts as long as the stored report's window: 900 s less its age.
    left = ttl(dedupe_key(client_key="c" * 32, service_id=tiktok.id))
    assert 890 <= left <= 900
    # A report older than the window is no repeat.
    Report.objects.update(created_at=stored.created_at.replace(year=2020))
    cache.clear()
    assert dedupe_claim(client_key="c" * 32, service_id=tiktok.id) is True


@pytest.mark.django_db
def test_address_cap_counts_exactly_its_limit_and_gives_places_back(clock, limits, tiktok, gmail):
    ip = "198.51.100.4"
    assert [address_cap_claim(ip=ip, service_id=tiktok.id) for _ in range(3)] == [
        True,
        True,
        False,
    ]
    assert address_cap_claim(ip=ip, service_id=gmail.id) is True
    key = f"ac:{tiktok.id}:{ip}:5400"  # 900 s windows: 6000 falls in the one from 5400
    assert cache.get(key) == 3
    assert 900 <= ttl(key) <= 901
    address_cap_release(ip=ip, service_id=tiktok.id)
    address_cap_release(ip=ip, service_id=tiktok.id)
    assert cache.get(key) == 1
    assert address_cap_claim(ip=ip, service_id=tiktok.id) is True


@pytest.mark.django_db
def test_address_cap_off_at_zero(clock, limits, settings, tiktok):
    settings.REPORT_ADDRESS_LIMIT = 0
    assert all(address_cap_claim(ip="198.51.100.4", service_id=tiktok.id) for _ in range(5))
    address_cap_release(ip="198.51.100.4", service_id=tiktok.id)
    assert cache.get(f"ac:{tiktok.id}:198.51.100.4:5400") is None
    settings.REPORT_ADDRESS_LIMIT = 1
    assert address_cap_claim(ip="198.51.100.4", service_id=tiktok.id) is True
    assert address_cap_claim(ip="198.51.100.4", service_id=tiktok.id) is False


@pytest.mark.django_db
def test_a_failed_insert_gives_back_the_claim_and_the_place(limits, tiktok):
    # country has two characters in the table: three fail the insert itself (DataError).
    bad = CleanReport(tiktok.id, "login", "USA", "", "")
    ip, key = "198.51.100.9", "d" * 32
    with pytest.raises(DataError), transaction.atomic():
        report_submit(report=bad, source="web", client_key=key, ip=ip)
    assert Report.objects.count() == 0
    assert cache.get(dedupe_key(client_key=key, service_id=tiktok.id)) is None
    cap_keys = [k for k in cache._cache.get_client("x").keys("*ac:*")]  # type: ignore[attr-defined]
    assert [cache._cache.get_client("x").get(k) for k in cap_keys] == [b"0"]  # type: ignore[attr-defined]
    good = CleanReport(tiktok.id, "login", "US", "", "")
    submission = report_submit(report=good, source="web", client_key=key, ip=ip)
    assert submission.report is not None and submission.counted is True


@pytest.mark.django_db
def test_a_failed_insert_over_the_cap_releases_no_place(limits, settings, tiktok):
    settings.REPORT_ADDRESS_LIMIT = 1
    ip = "198.51.100.10"
    good = CleanReport(tiktok.id, "login", "US", "", "")
    assert report_submit(report=good, source="web", client_key="e" * 32, ip=ip).counted is True
    bad = CleanReport(tiktok.id, "login", "USA", "", "")
    with pytest.raises(DataError), transaction.atomic():
        report_submit(report=bad, source="web", client_key="f" * 32, ip=ip)
    # The failed report's claim went over the cap (2 of 1) and held no place to give back.
    cap_keys = [k for k in cache._cache.get_client("x").keys("*ac:*")]  # type: ignore[attr-defined]
    assert [cache._cache.get_client("x").get(k) for k in cap_keys] == [b"2"]  # type: ignore[attr-defined]


def test_with_the_cache_unreachable_limits_hold_per_process(clock, limits, settings, caplog):
    settings.CACHES = UNREACHABLE
    with caplog.at_level(logging.WARNING, logger="reports.abuse"):
        assert [rate_limit_retry_after(ip="203.0.113.7") for _ in range(3)] == [None] * 3
        assert rate_limit_retry_after(ip="203.0.113.7") == 60
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1
    assert warnings[0].startswith("rate limit: cache unavailable, limiting per process: ")
    assert abuse._cache_down_until == 1005.0  # five seconds after the failure
    assert abuse.local.incr("rl:report:203.0.113.7:6000", 61) == 5


def test_the_cache_is_tried_again_five_seconds_after_it_failed(clock, limits, settings):
    settings.CACHES = UNREACHABLE
    assert rate_limit_retry_after(ip="203.0.113.7") is None
    assert abuse._cache_down_until == 1005.0
    clock.mono = 1004.9
    assert rate_limit_retry_after(ip="203.0.113.7") is None
    assert abuse._cache_down_until == 1005.0  # not tried: still within the five seconds
    clock.mono = 1005.0
    assert rate_limit_retry_after(ip="203.0.113.7") is None
    assert abuse._cache_down_until == 1010.0  # tried, failed again


@pytest.mark.django_db
def test_dedupe_and_cap_fall_back_per_process(clock, limits, settings, tiktok):
    settings.CACHES = UNREACHABLE
    assert dedupe_claim(client_key="g" * 32, service_id=tiktok.id) is True
    assert dedupe_claim(client_key="g" * 32, service_id=tiktok.id) is False
    dedupe_release(client_key="g" * 32, service_id=tiktok.id)
    assert dedupe_claim(client_key="g" * 32, service_id=tiktok.id) is True
    ip = "198.51.100.4"
    assert [address_cap_claim(ip=ip, service_id=tiktok.id) for _ in range(3)] == [
        True,
        True,
        False,
    ]
    address_cap_release(ip=ip, service_id=tiktok.id)
    address_cap_release(ip=ip, service_id=tiktok.id)
    assert address_cap_claim(ip=ip, service_id=tiktok.id) is True
    assert address_cap_claim(ip=ip, service_id=tiktok.id) is False


@pytest.mark.django_db
def test_a_repeat_found_in_the_table_keeps_its_claim_per_process(limits, settings, tiktok):
    report = CleanReport(tiktok.id, "login", "US", "", "")
    assert report_submit(report=report, source="web", client_key="h" * 32, ip="203.0.113.7")
    settings.CACHES = UNREACHABLE
    assert dedupe_claim(client_key="h" * 32, service_id=tiktok.id) is False
    # The process's own claim now holds for the rest of the stored report's window.
    assert abuse.local.add(dedupe_key(client_key="h" * 32, service_id=tiktok.id), 60) is False


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


def test_a_counter_recreated_after_it_vanished_keeps_its_ttl(clock):
    # With a timeout of 0 the recreated counter is dropped at once too: its ttl is the one given.
    assert abuse._cache_incr("rl:test:vanish", 0) == 1
    assert cache.get("rl:test:vanish") is None


def test_each_control_warns_under_its_own_name(clock, limits, settings, caplog):
    settings.CACHES = UNREACHABLE
    with caplog.at_level(logging.WARNING, logger="reports.abuse"):
        rate_limit_retry_after(ip="203.0.113.7")
        clock.mono += 5.0
        dedupe_release(client_key="i" * 32, service_id=1)
        clock.mono += 5.0
        address_cap_release(ip="203.0.113.7", service_id=1)
    assert [r.getMessage().split(":")[0] for r in caplog.records] == [
        "rate limit",
        "dedupe",
        "address cap",
    ]


@pytest.mark.django_db
def test_a_failed_lookup_releases_the_claim(limits):
    # An id the table cannot be asked about: the cache takes the claim, the lookup fails.
    with pytest.raises(ValueError):
        dedupe_claim(client_key="j" * 32, service_id="x")  # type: ignore[arg-type]
    assert cache.get(dedupe_key(client_key="j" * 32, service_id="x")) is None  # type: ignore[arg-type]


@pytest.mark.django_db
def test_a_repeat_keeps_its_claim_for_the_rest_of_its_window(limits, settings, tiktok):
    report = CleanReport(tiktok.id, "login", "US", "", "")
    assert report_submit(report=report, source="web", client_key="k" * 32, ip="203.0.113.7")
    Report.objects.update(created_at=timezone.now() - timedelta(seconds=100))
    cache.clear()
    assert dedupe_claim(client_key="k" * 32, service_id=tiktok.id) is False
    # 900 s less the stored report's 100: about 800 left, not a new window.
    assert 795 <= ttl(dedupe_key(client_key="k" * 32, service_id=tiktok.id)) <= 800
    settings.CACHES = UNREACHABLE
    abuse.local.clear()
    assert dedupe_claim(client_key="k" * 32, service_id=tiktok.id) is False
    expires, _ = abuse.local._items[dedupe_key(client_key="k" * 32, service_id=tiktok.id)]
    assert 795 <= expires - time.monotonic() <= 800


def pttl(key: str) -> int:
    client = cache._cache.get_client(key)  # type: ignore[attr-defined]
    return int(client.pttl(cache.make_and_validate_key(key)))


@pytest.mark.django_db
def test_the_dedupe_claim_warns_under_its_own_name(clock, limits, settings, caplog, tiktok):
    settings.CACHES = UNREACHABLE
    with caplog.at_level(logging.WARNING, logger="reports.abuse"):
        assert dedupe_claim(client_key="l" * 32, service_id=tiktok.id) is True
    assert [r.getMessage().split(":")[0] for r in caplog.records] == ["dedupe"]


# ------------------------------------------------------------------------ recovery claims


def recovery_cap_key(service_id: int, ip: str) -> str:
    # The cap's window of 900 s that holds the clock's 6000 s.
    return f"rvc:{service_id}:{ip}:5400"


@pytest.mark.django_db
def test_a_recovery_claim_and_its_cap_last_their_windows(clock, limits, tiktok):
    ip = "198.51.100.70"
    assert abuse.recovery_claim(client_key="m" * 32, service_id=tiktok.id, ip=ip) == (True, True)
    # The claim for the dedupe window (900 s), the cap's counter a second longer.
    assert 899_000 < pttl(f"rv:{tiktok.id}:{'m' * 32}") <= 900_000
    assert 900_000 < pttl(recovery_cap_key(tiktok.id, ip)) <= 901_000
    assert cache.get(recovery_cap_key(tiktok.id, ip)) == 1


@pytest.mark.django_db
def test_recovery_claims_held_in_process_last_their_windows(clock, limits, settings, tiktok):
    settings.CACHES = UNREACHABLE
    ip = "198.51.100.71"
    assert abuse.recovery_claim(client_key="n" * 32, service_id=tiktok.id, ip=ip) == (True, True)
    # The clock's monotonic time is 1000 s: expiry at 1000 + 900 and 1000 + 901.
    assert abuse.local._items[f"rv:{tiktok.id}:{'n' * 32}"] == (1900.0, 1)
    assert abuse.local._items[recovery_cap_key(tiktok.id, ip)] == (1901.0, 1)


@pytest.mark.django_db
def test_a_cap_counter_the_cache_cannot_count_is_counted_in_process(clock, limits, caplog, tiktok):
    ip = "198.51.100.72"
    # A value that is no integer: INCR fails while the claim itself succeeds.
    cache.set(recovery_cap_key(tiktok.id, ip), "not a count", timeout=60)
    with caplog.at_level(logging.WARNING, logger="reports.abuse"):
        got = abuse.recovery_claim(client_key="o" * 32, service_id=tiktok.id, ip=ip)
    assert got == (True, True)
    assert [r.getMessage().split(":")[0] for r in caplog.records] == ["address cap"]
    assert abuse.local._items[recovery_cap_key(tiktok.id, ip)] == (1901.0, 1)


@pytest.mark.django_db
def test_a_failed_recovery_lookup_releases_the_claim(limits):
    # An id the table cannot be asked about: the cache takes the claim, the lookup fails.
    with pytest.raises(ValueError):
        abuse.recovery_claim(client_key="p" * 32, service_id="x", ip="198.51.100.73")  # type: ignore[arg-type]
    assert cache.get(f"rv:x:{'p' * 32}") is None


@pytest.mark.django_db
def test_a_recovery_released_while_the_cache_is_down_is_released_in_process(
    clock, limits, settings, caplog, tiktok
):
    settings.CACHES = UNREACHABLE
    key = "q" * 32
    with caplog.at_level(logging.WARNING, logger="reports.abuse"):
        abuse.recovery_release(client_key=key, service_id=tiktok.id)
    assert [r.getMessage().split(":")[0] for r in caplog.records] == ["dedupe"]
    ip = "198.51.100.74"
    assert abuse.recovery_claim(client_key=key, service_id=tiktok.id, ip=ip) == (True, True)
    assert abuse.recovery_claim(client_key=key, service_id=tiktok.id, ip=ip) == (False, False)
    abuse.recovery_release(client_key=key, service_id=tiktok.id)
    assert f"rv:{tiktok.id}:{key}" not in abuse.local._items
    assert abuse.recovery_claim(client_key=key, service_id=tiktok.id, ip=ip) == (True, True)

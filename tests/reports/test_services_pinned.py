"""Intake services pinned: what report_accept and recovery_submit answer and store, field by
field, in each case; the claims given back when a row cannot be stored; rows and their times
that do not pair up."""

from datetime import UTC, datetime

import pytest
from django.db import IntegrityError
from django.utils import timezone

from reports import abuse
from reports.models import Claim, Recovery, Report, Source
from reports.services import (
    RecoverySubmission,
    Submission,
    recovery_submit,
    report_accept,
    report_create_many,
    report_rows_insert,
    report_submit,
)
from reports.validation import CleanRecovery, CleanReport
from tests.reports.test_intake_path import cap_count

pytestmark = pytest.mark.usefixtures("one_window")

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def report(service_id: int) -> CleanReport:
    return CleanReport(
        service_id=service_id, problem="login", country="BR", subdivision="BR-SP", comment="x"
    )


def recovery(service_id: int) -> CleanRecovery:
    return CleanRecovery(service_id=service_id, country="BR", subdivision="BR-SP")


# --------------------------------------------------------------------------- report_accept


@pytest.mark.django_db
def test_report_accept_answers_a_limit_and_a_repeat_with_nothing_counted(tiktok, settings):
    settings.RATE_LIMIT_REPORTS = 2
    ip = "203.0.113.40"
    first = report_accept(report=report(tiktok.id), source=Source.API, client_key="a" * 32, ip=ip)
    assert first.report is not None and (first.counted, first.retry_after) == (True, None)
    repeat = report_accept(report=report(tiktok.id), source=Source.API, client_key="a" * 32, ip=ip)
    assert repeat == Submission(report=None, counted=False, retry_after=None)
    limited = report_accept(report=report(tiktok.id), source=Source.API, client_key="b" * 32, ip=ip)
    assert limited.report is None and limited.counted is False
    assert limited.retry_after is not None and limited.retry_after >= 1
    assert Report.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_report_that_cannot_be_stored_gives_back_its_claim_and_its_place_under_the_cap(tiktok):
    ip, key = "203.0.113.41", "c" * 32
    gone = report(10**9)  # no such service: the insert fails
    with pytest.raises(IntegrityError):
        report_accept(report=gone, source=Source.API, client_key=key, ip=ip)
    assert cap_count(ip, 10**9) == 0
    assert not Claim.objects.filter(key=abuse.dedupe_key(client_key=key, service_id=10**9)).exists()


@pytest.mark.django_db
def test_report_submit_answers_a_repeat_with_nothing_counted(tiktok):
    ip, key = "203.0.113.42", "c" * 32
    first = report_submit(report=report(tiktok.id), source=Source.WEB, client_key=key, ip=ip)
    assert first.report is not None and first.counted is True
    repeat = report_submit(report=report(tiktok.id), source=Source.WEB, client_key=key, ip=ip)
    assert repeat == Submission(report=None, counted=False, retry_after=None)


# ------------------------------------------------------------------------- recovery_submit


@pytest.mark.django_db
def test_a_recovery_is_stored_with_every_field_and_a_repeat_stores_nothing(tiktok):
    before = timezone.now()
    got = recovery_submit(
        recovery=recovery(tiktok.id), source=Source.WEB, client_key="d" * 32, ip="192.0.2.50"
    )
    assert got.recovery is not None and got.counted is True
    row = Recovery.objects.get()
    assert (row.service_id, row.country, row.subdivision) == (tiktok.id, "BR", "BR-SP")
    assert (row.source, row.client_key, row.counted) == ("web", "d" * 32, True)
    assert before <= row.created_at <= timezone.now()
    again = recovery_submit(
        recovery=recovery(tiktok.id), source=Source.WEB, client_key="d" * 32, ip="192.0.2.50"
    )
    assert again == RecoverySubmission(recovery=None, counted=False)
    assert Recovery.objects.count() == 1


@pytest.mark.django_db
def test_recoveries_are_once_per_client_and_service_and_capped_per_address(tiktok, gmail, settings):
    settings.REPORT_ADDRESS_LIMIT = 1
    key = "e" * 32
    # One client, two services: two recoveries.
    for service in (tiktok, gmail):
        got = recovery_submit(
            recovery=recovery(service.id), source=Source.API, client_key=key, ip="192.0.2.60"
        )
        assert got.recovery is not None and got.counted is True
    # Another client at the same address is over its cap: kept, not counted.
    over = recovery_submit(
        recovery=recovery(tiktok.id), source=Source.API, client_key="f" * 32, ip="192.0.2.60"
    )
    assert over.recovery is not None and over.counted is False
    assert Recovery.objects.get(client_key="f" * 32).counted is False
    # At another address the cap is its own.
    other = recovery_submit(
        recovery=recovery(tiktok.id), source=Source.API, client_key="g" * 32, ip="192.0.2.61"
    )
    assert other.counted is True


# ------------------------------------------------------------------------ rows that pair up


@pytest.mark.django_db
def test_rows_and_their_times_must_pair_up(tiktok):
    row = (tiktok.id, "login", "US", "", "", T0, Source.BATCH, "h" * 32)
    with pytest.raises(ValueError, match="zip"):
        report_rows_insert(rows=[row, row], received_at=[T0])
    with pytest.raises(ValueError, match="zip"):
        report_create_many(reports=[report(tiktok.id)] * 2, client_keys=["h" * 32])
    assert Report.objects.count() == 0

"""The rollup pinned: the current minute, the lateness allowance at its bound, the range a run
covers (start, end, rows as numbers), chunked catch-up, the retention cutoff at its bound, and
the resets."""

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, connections, transaction

from analytics.models import (
    CountryHour,
    CountryMinute,
    HourCount,
    MinuteCount,
    RegionHour,
    RollupState,
    ServiceHour,
    ServiceMinute,
)
from analytics.rollup import (
    analytics_reset,
    report_retention_run,
    rollup_rewind,
    rollup_run,
    totals_resum,
)
from outages.models import Incident, ServiceStatus
from reports.models import Report
from tests.incidents import incident_add

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def add(service, at, n=1, country="US"):
    Report.objects.bulk_create(
        Report(
            service=service,
            problem="login",
            country=country,
            subdivision="",
            created_at=at,
            source="api",
            client_key=f"k{i}",
        )
        for i in range(n)
    )


def minutes() -> dict[datetime, int]:
    got: dict[datetime, int] = {}
    for m in MinuteCount.objects.all():
        got[m.minute] = got.get(m.minute, 0) + m.count
    return got


@pytest.mark.django_db
def test_a_report_in_the_current_minute_is_rolled_up(tiktok):
    add(tiktok, T0 + timedelta(seconds=30))
    result = rollup_run(now=T0 + timedelta(seconds=40))
    assert (result.start, result.end, result.rows) == (T0, T0 + timedelta(minutes=1), 1)
    assert minutes() == {T0: 1}
    # The minute is still filling: the watermark stays at its start.
    assert RollupState.objects.get().complete_until == T0
    add(tiktok, T0 + timedelta(seconds=50), 2)
    result = rollup_run(now=T0 + timedelta(seconds=55))
    assert minutes() == {T0: 3}
    assert result.rows == 1  # the same row, changed
    assert result.start == T0 - timedelta(minutes=5)


@pytest.mark.django_db
def test_the_lateness_allowance_is_five_minutes_to_the_minute(tiktok, settings):
    settings.ROLLUP_LATENESS = 300
    rollup_run(now=T0 + timedelta(minutes=10))
    assert RollupState.objects.get().complete_until == T0 + timedelta(minutes=10)
    # Committed late, stamped exactly five minutes and one more before the watermark.
    add(tiktok, T0 + timedelta(minutes=5))
    add(tiktok, T0 + timedelta(minutes=4, seconds=59))
    result = rollup_run(now=T0 + timedelta(minutes=10, seconds=30))
    assert result.start == T0 + timedelta(minutes=5)
    assert result.end == T0 + timedelta(minutes=11)
    assert minutes() == {T0 + timedelta(minutes=5): 1}


@pytest.mark.django_db
def test_a_run_for_an_earlier_time_starts_from_that_time(tiktok, settings):
    settings.ROLLUP_LATENESS = 300
    rollup_run(now=T0 + timedelta(minutes=30))
    result = rollup_run(now=T0 + timedelta(minutes=10, seconds=20))
    assert (result.start, result.end) == (
        T0 + timedelta(minutes=5),
        T0 + timedelta(minutes=11),
    )
    assert RollupState.objects.get().complete_until == T0 + timedelta(minutes=10)


@pytest.mark.django_db
def test_the_first_run_starts_at_the_first_report_or_the_allowance(tiktok, settings):
    settings.ROLLUP_LATENESS = 300
    result = rollup_run(now=T0 + timedelta(seconds=10))
    assert (result.start, result.end, result.rows) == (
        T0 - timedelta(minutes=5),
        T0 + timedelta(minutes=1),
        0,
    )
    RollupState.objects.all().delete()
    add(tiktok, T0 - timedelta(hours=20, seconds=-15))
    add(tiktok, T0)
    result = rollup_run(now=T0 + timedelta(seconds=10))
    assert result.start == T0 - timedelta(hours=20)
    assert result.rows == 2
    assert minutes() == {T0 - timedelta(hours=20): 1, T0: 1}


@pytest.mark.django_db
def test_catching_up_in_six_hour_chunks_counts_every_minute_once(tiktok):
    rollup_run(now=T0)
    for h in (0, 5, 6, 7, 12, 13, 18, 19):
        add(tiktok, T0 + timedelta(hours=h, minutes=59), h + 1)
    result = rollup_run(now=T0 + timedelta(hours=20))
    assert result.rows == 8
    assert minutes() == {
        T0 + timedelta(hours=h, minutes=59): h + 1 for h in (0, 5, 6, 7, 12, 13, 18, 19)
    }
    assert ServiceHour.objects.get(hour=T0 + timedelta(hours=6)).count == 7


@pytest.mark.django_db
def test_rows_rewritten_over_existing_minutes_are_upserted(tiktok):
    add(tiktok, T0, 2)
    rollup_run(now=T0 + timedelta(minutes=1))
    # Rewound: the minutes are rolled up again, over the rows already there.
    rollup_rewind(since=T0 - timedelta(minutes=10))
    add(tiktok, T0, 1)
    result = rollup_run(now=T0 + timedelta(minutes=2))
    assert minutes() == {T0: 3}
    assert result.rows == 1


@pytest.mark.django_db
def test_rewind_moves_the_watermark_back_only(tiktok):
    rollup_run(now=T0 + timedelta(minutes=30))
    first = RollupState.objects.get().history_id
    rollup_rewind(since=T0 + timedelta(minutes=40))
    state = RollupState.objects.get()
    assert (state.complete_until, state.history_id) == (T0 + timedelta(minutes=30), first)
    rollup_rewind(since=T0 + timedelta(minutes=30))
    assert RollupState.objects.get().history_id == first
    rollup_rewind(since=T0 + timedelta(minutes=20))
    state = RollupState.objects.get()
    assert state.complete_until == T0 + timedelta(minutes=20)
    assert state.history_id != first


@pytest.mark.django_db
def test_retention_cutoff_is_exact(tiktok, settings):
    settings.RAW_REPORT_RETENTION_DAYS = 90
    settings.ROLLUP_LATENESS = 300
    add(tiktok, T0 - timedelta(days=90), 2)  # exactly at the cutoff: kept
    add(tiktok, T0 - timedelta(days=90, seconds=1), 5)  # just before it: deleted
    rollup_run(now=T0)
    assert report_retention_run(now=T0, batch_size=2) == 5
    assert Report.objects.count() == 2
    assert report_retention_run(now=T0, batch_size=2) == 0


@pytest.mark.django_db
def test_retention_never_deletes_what_is_not_rolled_up(tiktok, settings):
    settings.RAW_REPORT_RETENTION_DAYS = 1
    settings.ROLLUP_LATENESS = 300
    rollup_run(now=T0)
    # Reports older than a day, but the watermark (less the allowance) is older still.
    RollupState.objects.update(complete_until=T0 - timedelta(days=3))
    add(tiktok, T0 - timedelta(days=3, minutes=5), 1)  # at the watermark less 5 min: kept
    add(tiktok, T0 - timedelta(days=3, minutes=5, seconds=1), 4)
    assert report_retention_run(now=T0) == 4
    assert Report.objects.count() == 1


@pytest.mark.django_db
def test_totals_resum_covers_the_hours_the_range_touches(tiktok):
    add(tiktok, T0 + timedelta(minutes=59), 2)
    add(tiktok, T0 + timedelta(hours=1), 3)
    rollup_run(now=T0 + timedelta(hours=1, minutes=1))
    ServiceHour.objects.all().delete()
    ServiceMinute.objects.all().delete()
    # [12:59, 13:00) touches the 12:00 hour only; its minute totals are the one minute.
    totals_resum(since=T0 + timedelta(minutes=59), until=T0 + timedelta(hours=1))
    assert {h.hour: h.count for h in ServiceHour.objects.all()} == {T0: 2}
    assert {m.minute: m.count for m in ServiceMinute.objects.all()} == {
        T0 + timedelta(minutes=59): 2
    }
    totals_resum(since=T0 + timedelta(minutes=59), until=T0 + timedelta(hours=1, minutes=1))
    assert {h.hour: h.count for h in ServiceHour.objects.all()} == {
        T0: 2,
        T0 + timedelta(hours=1): 3,
    }


@pytest.mark.django_db
def test_analytics_reset_forgets_everything_derived(tiktok):
    add(tiktok, T0, 2)
    rollup_run(now=T0 + timedelta(minutes=1))
    incident_add(tiktok, started_at=T0)
    ServiceStatus.objects.create(service=tiktok, level="outage", updated_at=T0)
    analytics_reset()
    for model in (
        MinuteCount,
        ServiceMinute,
        RegionHour,
        HourCount,
        ServiceHour,
        CountryMinute,
        CountryHour,
        RollupState,
        Incident,
        ServiceStatus,
    ):
        assert model.objects.count() == 0, model
    assert Report.objects.count() == 2


@pytest.mark.django_db
def test_a_run_at_the_watermarks_own_minute_rewrites_no_history(tiktok):
    add(tiktok, T0, 1)
    rollup_run(now=T0 + timedelta(minutes=30))
    first = RollupState.objects.get().history_id
    # The same minute again, to the microsecond: nothing readers took as final changes.
    rollup_run(now=T0 + timedelta(minutes=30))
    assert RollupState.objects.get().history_id == first
    rollup_run(now=T0 + timedelta(minutes=30) - timedelta(microseconds=1))
    assert RollupState.objects.get().history_id != first


@pytest.mark.django_db
def test_a_rewrite_is_dated_by_its_run_and_kept_two_days_of_runs(tiktok):
    from analytics.models import RollupRewrite
    from tests.analytics.test_rollup import backlog

    add(tiktok, T0, 1)
    rollup_run(now=T0 + timedelta(hours=1))

    def late_run(at: datetime) -> None:
        backlog(tiktok, [T0 + timedelta(minutes=1)], received=at - timedelta(seconds=10))
        rollup_run(now=at)

    first_run = T0 + timedelta(hours=1, minutes=1)
    late_run(first_run)
    assert list(RollupRewrite.objects.values_list("created_at", flat=True)) == [first_run]
    # Two days of the runs' clock later, to the microsecond, it is still kept; then dropped.
    late_run(first_run + timedelta(days=2))
    assert RollupRewrite.objects.count() == 2
    late_run(first_run + timedelta(days=2, microseconds=1))
    assert sorted(RollupRewrite.objects.values_list("created_at", flat=True)) == [
        first_run + timedelta(days=2),
        first_run + timedelta(days=2, microseconds=1),
    ]


def _waiting_advisory_locks() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
        return int(cursor.fetchone()[0])


@pytest.mark.django_db(transaction=True)
def test_a_run_waits_for_the_run_in_progress(tiktok):
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's advisory lock")
    add(tiktok, T0, 2)
    done = threading.Event()

    def second_run() -> None:
        try:
            rollup_run(now=T0 + timedelta(minutes=1))
        finally:
            done.set()
            connections.close_all()

    with connection.cursor() as cursor, transaction.atomic():
        # The lock a run in progress holds.
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext('analytics.rollup'))")
        thread = threading.Thread(target=second_run)
        thread.start()
        deadline = time.monotonic() + 20
        while _waiting_advisory_locks() < 1:
            assert not done.is_set(), "the run did not wait for the lock"
            assert time.monotonic() < deadline, "the run never asked for the lock"
            time.sleep(0.005)
        assert not done.is_set()
    thread.join(timeout=20)
    assert done.is_set() and minutes() == {T0: 2}

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from analytics.models import MinuteCount, RollupState
from analytics.rollup import report_retention_run, rollup_run
from common.time import floor_minute
from reports.models import Report

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def add(service, at, n=1, country="US", subdivision="", problem="login"):
    Report.objects.bulk_create(
        Report(
            service=service,
            problem=problem,
            country=country,
            subdivision=subdivision,
            created_at=at,
            source="api",
            client_key=f"k{i}",
        )
        for i in range(n)
    )


def counts():
    return {
        (m.service_id, m.minute, m.country, m.subdivision, m.problem): m.count
        for m in MinuteCount.objects.all()
    }


@pytest.mark.django_db
def test_it_counts_reports_per_minute_and_dimension(tiktok):
    add(tiktok, T0 + timedelta(seconds=5), 3)
    add(tiktok, T0 + timedelta(seconds=59), 1, problem="upload")
    add(tiktok, T0 + timedelta(minutes=1, seconds=1), 2, country="BR", subdivision="BR-SP")
    rollup_run(now=T0 + timedelta(minutes=2))
    assert counts() == {
        (tiktok.id, T0, "US", "", "login"): 3,
        (tiktok.id, T0, "US", "", "upload"): 1,
        (tiktok.id, T0 + timedelta(minutes=1), "BR", "BR-SP", "login"): 2,
    }


@pytest.mark.django_db
def test_a_rerun_gives_the_same_rows(tiktok):
    add(tiktok, T0, 4)
    rollup_run(now=T0 + timedelta(minutes=1))
    first = counts()
    rollup_run(now=T0 + timedelta(minutes=1))
    rollup_run(now=T0 + timedelta(minutes=1, seconds=30))
    assert counts() == first == {(tiktok.id, T0, "US", "", "login"): 4}


@pytest.mark.django_db
def test_a_late_report_is_counted_in_its_own_minute(tiktok):
    add(tiktok, T0, 1)
    rollup_run(now=T0 + timedelta(minutes=3))
    # Committed after that run, stamped two minutes earlier (a slow transaction).
    add(tiktok, T0 + timedelta(seconds=30), 2)
    rollup_run(now=T0 + timedelta(minutes=4))
    assert counts() == {(tiktok.id, T0, "US", "", "login"): 3}


@pytest.mark.django_db
def test_it_catches_up_after_the_worker_was_down(tiktok):
    add(tiktok, T0, 1)
    rollup_run(now=T0 + timedelta(minutes=1))
    for h in range(1, 13):
        add(tiktok, T0 + timedelta(hours=h), h)
    result = rollup_run(now=T0 + timedelta(hours=12, minutes=5))
    assert result.start <= T0 + timedelta(minutes=1)
    assert sum(counts().values()) == 1 + sum(range(1, 13))
    assert RollupState.objects.get().complete_until == T0 + timedelta(hours=12, minutes=5)


@pytest.mark.django_db
def test_the_first_run_covers_all_history(tiktok):
    add(tiktok, T0 - timedelta(days=14), 2)
    add(tiktok, T0, 1)
    rollup_run(now=T0 + timedelta(minutes=1))
    assert sum(counts().values()) == 3


@pytest.mark.django_db
def test_work_is_bounded_by_the_window_not_history(tiktok):
    add(tiktok, T0 - timedelta(days=3), 5)
    rollup_run(now=T0)
    add(tiktok, T0 + timedelta(seconds=10), 1)
    result = rollup_run(now=T0 + timedelta(minutes=1))
    # Only the recent window was recomputed: one group, not the old history.
    assert result.rows == 1
    assert result.start >= T0 - timedelta(minutes=10)


@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_give_the_same_rows(tiktok, gmail):
    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL (SQLite serialises them)")
    for m in range(30):
        add(tiktok, T0 + timedelta(minutes=m), m % 4 + 1, country=["US", "BR", "DE"][m % 3])
        add(gmail, T0 + timedelta(minutes=m, seconds=30), 2, problem="email")
    errors = []

    def run():
        try:
            rollup_run(now=T0 + timedelta(minutes=31))
        except Exception as exc:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    rows = counts()
    assert sum(rows.values()) == sum(m % 4 + 1 for m in range(30)) + 60
    assert len(rows) == 60


@pytest.mark.django_db
def test_retention_deletes_old_raw_reports_in_batches_and_keeps_rollups(tiktok, settings):
    settings.RAW_REPORT_RETENTION_DAYS = 90
    add(tiktok, T0 - timedelta(days=100), 25)
    add(tiktok, T0 - timedelta(days=10), 3)
    rollup_run(now=T0)
    deleted = report_retention_run(now=T0, batch_size=10)
    assert deleted == 25
    assert Report.objects.count() == 3
    assert sum(counts().values()) == 28


@pytest.mark.django_db
def test_retention_waits_for_the_rollup(tiktok):
    add(tiktok, T0 - timedelta(days=100), 5)
    assert report_retention_run(now=T0) == 0
    assert Report.objects.count() == 5


@pytest.mark.django_db
def test_hour_totals_follow_the_minutes(tiktok):
    from analytics.models import HourCount

    add(tiktok, T0 + timedelta(minutes=5), 2)
    add(tiktok, T0 + timedelta(minutes=50), 3, country="BR")
    add(tiktok, T0 + timedelta(minutes=59, seconds=59), 1)
    rollup_run(now=T0 + timedelta(minutes=55))
    # A later run whose range starts mid-hour must still leave exact hour totals.
    add(tiktok, T0 + timedelta(hours=1, minutes=2), 4)
    rollup_run(now=T0 + timedelta(hours=1, minutes=3))
    hours = {(h.hour, h.country): h.count for h in HourCount.objects.all()}
    assert hours == {
        (T0, "US"): 3,
        (T0, "BR"): 3,
        (T0 + timedelta(hours=1), "US"): 4,
    }


@pytest.mark.django_db
def test_a_rerun_rewrites_nothing_that_did_not_change(tiktok):
    add(tiktok, T0, 4)
    add(tiktok, T0 + timedelta(minutes=2), 1)
    assert rollup_run(now=T0 + timedelta(minutes=3)).rows == 2
    assert rollup_run(now=T0 + timedelta(minutes=3)).rows == 0
    add(tiktok, T0 + timedelta(seconds=20), 1)
    assert rollup_run(now=T0 + timedelta(minutes=4)).rows == 1
    assert counts() == {
        (tiktok.id, T0, "US", "", "login"): 5,
        (tiktok.id, T0 + timedelta(minutes=2), "US", "", "login"): 1,
    }


@pytest.mark.django_db
def test_rewound_history_is_counted_again_without_duplicates(tiktok):
    from analytics.rollup import rollup_rewind

    for m in range(0, 60, 10):
        add(tiktok, T0 + timedelta(minutes=m), 2)
    rollup_run(now=T0 + timedelta(hours=1))
    # A bulk load of past reports: minutes already written get new counts, new ones appear.
    add(tiktok, T0 + timedelta(minutes=20), 3)
    add(tiktok, T0 + timedelta(minutes=25), 1, country="BR")
    rollup_rewind(since=T0)
    rollup_run(now=T0 + timedelta(hours=1, minutes=1))
    rows = counts()
    assert rows[(tiktok.id, T0 + timedelta(minutes=20), "US", "", "login")] == 5
    assert rows[(tiktok.id, T0 + timedelta(minutes=25), "BR", "", "login")] == 1
    assert sum(rows.values()) == 12 + 4
    assert len(rows) == 7


@pytest.mark.django_db
def test_a_run_for_an_earlier_time_marks_history_rewritten(tiktok):
    add(tiktok, T0, 1)
    rollup_run(now=T0 + timedelta(minutes=30))
    first = RollupState.objects.get().history_id
    rollup_run(now=T0 + timedelta(minutes=31))
    assert RollupState.objects.get().history_id == first
    rollup_run(now=T0 + timedelta(minutes=10))
    assert RollupState.objects.get().history_id != first


@pytest.mark.django_db
def test_service_minute_totals_follow_the_minutes(tiktok, gmail):
    from analytics.models import ServiceMinute
    from analytics.rollup import rollup_rewind

    add(tiktok, T0 + timedelta(seconds=5), 3)
    add(tiktok, T0 + timedelta(seconds=9), 2, country="BR", subdivision="BR-SP", problem="upload")
    add(gmail, T0 + timedelta(minutes=1), 1)
    rollup_run(now=T0 + timedelta(minutes=3))
    # Late, inside the lateness window: its minute's total is rewritten.
    add(tiktok, T0 + timedelta(seconds=30), 4, country="DE")
    rollup_run(now=T0 + timedelta(minutes=4))
    rollup_run(now=T0 + timedelta(minutes=4))
    # A bulk load of older reports, counted after a rewind.
    add(tiktok, T0 - timedelta(hours=2), 5)
    rollup_rewind(since=T0 - timedelta(hours=3))
    rollup_run(now=T0 + timedelta(minutes=5))

    totals = {(s.service_id, s.minute): s.count for s in ServiceMinute.objects.all()}
    summed: dict[tuple[int, datetime], int] = {}
    for (service_id, minute, *_), n in counts().items():
        summed[(service_id, minute)] = summed.get((service_id, minute), 0) + n
    assert (
        totals
        == summed
        == {
            (tiktok.id, T0 - timedelta(hours=2)): 5,
            (tiktok.id, T0): 9,
            (gmail.id, T0 + timedelta(minutes=1)): 1,
        }
    )


@pytest.mark.django_db
def test_service_hour_totals_follow_the_minutes(tiktok, gmail):
    from analytics.models import HourCount, ServiceHour

    add(tiktok, T0 + timedelta(minutes=5), 2)
    add(tiktok, T0 + timedelta(minutes=50), 3, country="BR")
    add(gmail, T0 + timedelta(minutes=58), 1)
    rollup_run(now=T0 + timedelta(minutes=55))
    # Late for the earlier run, and a run starting mid-hour: hour totals stay exact.
    add(tiktok, T0 + timedelta(minutes=54), 1, country="DE")
    add(tiktok, T0 + timedelta(hours=1, minutes=2), 4)
    rollup_run(now=T0 + timedelta(hours=1, minutes=3))
    totals = {(s.service_id, s.hour): s.count for s in ServiceHour.objects.all()}
    by_country: dict[tuple[int, datetime], int] = {}
    for h in HourCount.objects.all():
        by_country[(h.service_id, h.hour)] = by_country.get((h.service_id, h.hour), 0) + h.count
    assert (
        totals
        == by_country
        == {
            (tiktok.id, T0): 6,
            (gmail.id, T0): 1,
            (tiktok.id, T0 + timedelta(hours=1)): 4,
        }
    )


@pytest.mark.django_db
def test_region_and_country_totals_follow_the_minutes(tiktok, gmail):
    from analytics.models import CountryHour, CountryMinute, RegionHour
    from analytics.rollup import rollup_rewind

    add(tiktok, T0 + timedelta(minutes=5), 2, subdivision="US-CA")
    add(tiktok, T0 + timedelta(minutes=50), 3, country="BR", subdivision="BR-SP")
    add(gmail, T0 + timedelta(minutes=58), 1, subdivision="US-CA", problem="email")
    rollup_run(now=T0 + timedelta(minutes=55))
    # Late for the earlier run, a run starting mid-hour, and a bulk load after a rewind.
    add(tiktok, T0 + timedelta(minutes=54), 1, country="BR", subdivision="BR-SP")
    add(tiktok, T0 + timedelta(hours=1, minutes=2), 4, country="DE")
    rollup_run(now=T0 + timedelta(hours=1, minutes=3))
    add(gmail, T0 - timedelta(hours=2), 5, country="BR")
    rollup_rewind(since=T0 - timedelta(hours=3))
    rollup_run(now=T0 + timedelta(hours=1, minutes=4))

    regions: dict[tuple[int, datetime, str, str], int] = {}
    by_minute: dict[tuple[datetime, str], int] = {}
    by_hour: dict[tuple[datetime, str], int] = {}
    for (service_id, minute, country, subdivision, _), n in counts().items():
        hour = minute.replace(minute=0)
        key = (service_id, hour, country, subdivision)
        regions[key] = regions.get(key, 0) + n
        by_minute[(minute, country)] = by_minute.get((minute, country), 0) + n
        by_hour[(hour, country)] = by_hour.get((hour, country), 0) + n
    assert {
        (r.service_id, r.hour, r.country, r.subdivision): r.count for r in RegionHour.objects.all()
    } == regions
    assert regions[(tiktok.id, T0, "BR", "BR-SP")] == 4
    assert {(c.minute, c.country): c.count for c in CountryMinute.objects.all()} == by_minute
    assert (
        {(c.hour, c.country): c.count for c in CountryHour.objects.all()}
        == by_hour
        == {
            (T0 - timedelta(hours=2), "BR"): 5,
            (T0, "US"): 3,
            (T0, "BR"): 4,
            (T0 + timedelta(hours=1), "DE"): 4,
        }
    )


def backlog(service, observed, *, received, country="US"):
    """Reports observed at each of `observed`, sent in one batch at `received`."""
    from reports.services import report_create_many
    from reports.validation import CleanReport

    report_create_many(
        reports=[CleanReport(service.id, "login", country, "", "") for _ in observed],
        client_keys=[f"p{i}" for i in range(len(observed))],
        created_at=received,
        observed_at=observed,
    )


@pytest.mark.django_db
def test_a_backlog_lands_in_its_own_minutes_exactly_once(tiktok, gmail):
    from analytics.models import HourCount, RollupRewrite, ServiceHour, ServiceMinute

    for m in range(120):
        add(tiktok, T0 + timedelta(minutes=m, seconds=10), 2)
    add(gmail, T0 + timedelta(minutes=30), 1)
    now = T0 + timedelta(hours=2, seconds=20)
    rollup_run(now=now)
    # An hour of a partner's reports (minutes 45 to 104, one each) arrives at once, with
    # reports of the current minute.
    observed = [T0 + timedelta(minutes=45 + k, seconds=40) for k in range(60)]
    arrival = now + timedelta(seconds=5)
    backlog(tiktok, [*observed, None, None], received=arrival)
    for later in (30, 60, 90, 330, 600):
        rollup_run(now=now + timedelta(seconds=later))
        minutes = counts()
        for m in range(120):
            expected = 3 if 45 <= m < 105 else 2
            assert minutes[(tiktok.id, T0 + timedelta(minutes=m), "US", "", "login")] == expected
        assert minutes[(tiktok.id, T0 + timedelta(hours=2), "US", "", "login")] == 2
        assert sum(n for key, n in minutes.items() if key[0] == tiktok.id) == 240 + 60 + 2
        service_minutes = dict(
            ServiceMinute.objects.filter(service=tiktok).values_list("minute", "count")
        )
        assert service_minutes[T0 + timedelta(minutes=45)] == 3
        assert sum(service_minutes.values()) == 302
        hours = dict(ServiceHour.objects.filter(service=tiktok).values_list("hour", "count"))
        assert hours == {
            T0: 120 + 15,
            T0 + timedelta(hours=1): 120 + 45,
            T0 + timedelta(hours=2): 2,
        }
        assert HourCount.objects.get(service=tiktok, hour=T0).count == 135
        assert ServiceMinute.objects.get(service=gmail).count == 1
    # Every run that saw the arrival within its range recorded the minutes it re-summed.
    rewrites = list(RollupRewrite.objects.values_list("since", "until"))
    assert rewrites and set(rewrites) == {(T0 + timedelta(minutes=45), T0 + timedelta(minutes=105))}
    assert RollupState.objects.get().complete_until == floor_minute(now + timedelta(seconds=600))


@pytest.mark.django_db
def test_a_backlog_older_than_every_run_range_is_found_by_its_arrival(tiktok):
    add(tiktok, T0, 1)
    rollup_run(now=T0 + timedelta(hours=20))
    # Observed 19 hours before the batch arrived.
    backlog(tiktok, [T0 + timedelta(minutes=1)] * 3, received=T0 + timedelta(hours=20, minutes=1))
    result = rollup_run(now=T0 + timedelta(hours=20, minutes=1, seconds=30))
    assert counts() == {
        (tiktok.id, T0, "US", "", "login"): 1,
        (tiktok.id, T0 + timedelta(minutes=1), "US", "", "login"): 3,
    }
    assert result.rows == 1

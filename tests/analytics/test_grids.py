"""The detection pass keeps its counts between passes and reads only what may have changed:
it must see exactly what a full read sees."""

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from django.conf import settings

from analytics import services
from analytics.grids import (
    PairRows,
    country_code,
    country_text,
    grid_build,
    grid_series,
    grid_update,
)
from analytics.models import MinuteCount
from analytics.rollup import ROLLUP, rollup_rewind, rollup_run
from analytics.selectors.detection import _long, minute_pair_rows, rollup_watermark, to_wide
from analytics.services import detection_run
from common.time import floor_hour, floor_minute
from outages.models import Incident, ServiceStatus
from reports.models import Report
from tests.analytics.test_detection_run import NOW, burst, steady_history

START = 1_790_000_000 // 3600 * 3600
COUNTRIES = ["", "BR", "DE", "GB", "US", "U"]


def random_rows(rng: np.random.Generator, n: int, *, start: int, minutes: int) -> pd.DataFrame:
    """Unique (service, country, minute) rows, a few of them with 0 reports."""
    frame = pd.DataFrame(
        {
            "service_id": rng.integers(1, 12, n),
            "country": rng.choice(COUNTRIES, n),
            "t": start + 60 * rng.integers(0, minutes, n),
            "count": rng.integers(0, 6, n),
        }
    )
    return frame.drop_duplicates(["service_id", "country", "t"]).reset_index(drop=True)


def as_rows(frame: pd.DataFrame) -> PairRows:
    return PairRows(
        service=frame["service_id"].to_numpy(np.int64),
        country=np.asarray([country_code(c) for c in frame["country"]], dtype=np.int64),
        t=frame["t"].to_numpy(np.int64),
        count=frame["count"].to_numpy(np.int64),
    )


def full_read(frame: pd.DataFrame, countries: set[tuple[int, str]], start: int, minutes: int):
    index = pd.date_range(pd.Timestamp(start, unit="s", tz="UTC"), periods=minutes, freq="1min")
    return to_wide(_long(frame.copy(), countries), index)


def assert_same(series, wide: pd.DataFrame) -> None:
    assert series.labels == [str(c) for c in wide.columns]
    np.testing.assert_array_equal(series.matrix, wide.to_numpy())
    for label, service, country in zip(series.labels, series.service, series.country, strict=True):
        assert label == (f"{service}:{country}" if country else str(service))


def test_country_codes_keep_the_order_of_the_text():
    codes = ["", "A", "AB", "B", "BR", "U", "US", "ZZ"]
    assert sorted(codes, key=country_code) == sorted(codes)
    assert [country_text(country_code(c)) for c in codes] == codes


@pytest.mark.parametrize("seed", range(5))
def test_series_from_a_grid_are_those_of_a_full_read(seed):
    rng = np.random.default_rng(seed)
    frame = random_rows(rng, 3000, start=START, minutes=240)
    countries = {(s, c) for s in range(1, 12) for c in ("BR", "US", "U") if rng.random() < 0.5}
    grid = grid_build(as_rows(frame), start=START, buckets=240, step=60)
    assert_same(grid_series(grid, countries), full_read(frame, countries, START, 240))


@pytest.mark.parametrize("seed", range(5))
def test_an_updated_grid_is_the_grid_of_a_full_read(seed):
    rng = np.random.default_rng(seed)
    countries = {(s, "US") for s in range(1, 12)} | {(3, "BR")}
    frame = random_rows(rng, 3000, start=START, minutes=240)
    old = grid_build(as_rows(frame), start=START, buckets=240, step=60)
    # The window moves on by an hour and ten minutes; the last 15 minutes of the old one and
    # all the new minutes are read again (some counts changed, new series appeared).
    start, keep_until = START + 3600, START + (240 - 15) * 60
    kept = frame[frame["t"] < keep_until]
    fresh = random_rows(rng, 400, start=keep_until, minutes=15 + 60)
    fresh["service_id"] += rng.integers(0, 3, len(fresh))
    new = grid_update(old, as_rows(fresh), start=start, buckets=240, step=60, keep_until=keep_until)
    every = pd.concat([kept, fresh], ignore_index=True)
    every = every[every["t"] >= start]
    assert_same(grid_series(new, countries), full_read(every, countries, start, 240))
    # A series whose rows all fell out of the window is gone.
    assert set(new.pairs.tolist()) == set(as_rows(every).keys().tolist())


def test_an_update_needs_the_old_buckets_it_keeps():
    frame = random_rows(np.random.default_rng(1), 100, start=START, minutes=60)
    old = grid_build(as_rows(frame), start=START, buckets=60, step=60)
    with pytest.raises(ValueError, match="cover"):
        grid_update(
            old, as_rows(frame), start=START - 60, buckets=60, step=60, keep_until=START + 60
        )


T0 = datetime(2026, 11, 25, 12, 0, 30, tzinfo=UTC)


def add(service, at, n, country="US"):
    Report.objects.bulk_create(
        Report(
            service=service,
            problem="login",
            country=country,
            created_at=at,
            source="api",
            client_key=f"late{at.timestamp()}-{i}",
        )
        for i in range(n)
    )


def grids_now(now: datetime, *, cold: bool):
    if cold:
        services._kept_grids.clear()
    at = now.replace(second=0, microsecond=0) - timedelta(minutes=1)
    since = floor_hour(at - services.DETECTION_MINUTES)
    watermark = rollup_watermark(name=ROLLUP)
    assert watermark is not None
    settled = watermark[1] - timedelta(seconds=settings.ROLLUP_LATENESS)
    return services._counts_grid(
        "minute",
        since=since,
        until=at + timedelta(minutes=1),
        step=timedelta(minutes=1),
        watermark=watermark,
        final_until=floor_minute(settled),
    )


def same_grid(a, b) -> None:
    assert (a.start, a.step) == (b.start, b.step)
    np.testing.assert_array_equal(a.pairs, b.pairs)
    np.testing.assert_array_equal(a.counts, b.counts)
    np.testing.assert_array_equal(a.present, b.present)


@pytest.mark.django_db
def test_a_kept_grid_picks_up_late_reports_and_new_minutes(tiktok, gmail):
    steady_history(tiktok, hours=3, end=T0)
    rollup_run(now=T0)
    grids_now(T0, cold=True)
    # Committed after that rollup, stamped within the lateness allowance; and new minutes.
    add(tiktok, T0 - timedelta(minutes=4), 7)
    add(gmail, T0 - timedelta(minutes=2), 3, country="BR")
    add(tiktok, T0 + timedelta(minutes=1), 2)
    later = T0 + timedelta(minutes=2)
    rollup_run(now=later)
    kept = grids_now(later, cold=False)
    same_grid(kept, grids_now(later, cold=True))
    minute = (T0 - timedelta(minutes=4)).replace(second=0)
    stored = MinuteCount.objects.filter(service=tiktok, minute=minute, country="US")
    column = int(np.searchsorted(kept.pairs, (tiktok.id << 42) | country_code("US")))
    row = (int(minute.timestamp()) - kept.start) // 60
    assert kept.counts[row, column] == sum(m.count for m in stored)


@pytest.mark.django_db
def test_rewound_history_is_read_again(tiktok):
    steady_history(tiktok, hours=3, end=T0)
    rollup_run(now=T0)
    grids_now(T0, cold=True)
    # A bulk load with past timestamps, well before the lateness allowance.
    add(tiktok, T0 - timedelta(hours=2), 50, country="DE")
    rollup_rewind(since=T0 - timedelta(hours=2, minutes=1))
    later = T0 + timedelta(minutes=1)
    rollup_run(now=later)
    kept = grids_now(later, cold=False)
    same_grid(kept, grids_now(later, cold=True))
    assert ((tiktok.id << 42) | country_code("DE")) in kept.pairs


@pytest.mark.django_db
def test_a_kept_grid_reads_again_the_old_minutes_of_a_late_backlog(tiktok, gmail):
    from tests.analytics.test_rollup import backlog

    steady_history(tiktok, hours=3, end=T0)
    steady_history(gmail, hours=3, end=T0, seed=3)
    rollup_run(now=T0)
    grids_now(T0, cold=True)
    # A partner's reports observed two hours to 90 minutes ago (long settled), arriving now;
    # one of them in a country the grid has not seen.
    observed = [T0 - timedelta(hours=2) + timedelta(seconds=29 * k) for k in range(60)]
    later = T0 + timedelta(minutes=1)
    backlog(tiktok, observed, received=later, country="BR")
    backlog(gmail, observed[:5], received=later)
    rollup_run(now=later)
    kept = grids_now(later, cold=False)
    same_grid(kept, grids_now(later, cold=True))
    assert ((tiktok.id << 42) | country_code("BR")) in kept.pairs
    # The next pass reads only the usual minutes again, and still sees what a full read does.
    next_pass = later + timedelta(seconds=30)
    rollup_run(now=next_pass)
    same_grid(grids_now(next_pass, cold=False), grids_now(next_pass, cold=True))


@pytest.mark.django_db
@pytest.mark.parametrize("odd", ["", "U", "É"])
def test_reading_minute_rows_as_arrays(tiktok, gmail, odd):
    for service, country, subdivision, n in [
        (tiktok, "BR", "BR-SP", 2),
        (tiktok, "BR", "", 3),
        (gmail, odd, "", 4),
        (gmail, "US", "", 1),
    ]:
        MinuteCount.objects.create(
            service=service,
            country=country,
            subdivision=subdivision,
            problem="login",
            minute=T0,
            count=n,
        )
    rows = minute_pair_rows(since=T0 - timedelta(minutes=1), until=T0 + timedelta(minutes=1))
    got = sorted(
        zip(
            rows.service.tolist(),
            rows.country.tolist(),
            rows.t.tolist(),
            rows.count.tolist(),
            strict=True,
        )
    )
    t = int(T0.timestamp())
    assert got == sorted(
        [
            (tiktok.id, country_code("BR"), t, 5),
            (gmail.id, country_code(odd), t, 4),
            (gmail.id, country_code("US"), t, 1),
        ]
    )


def snapshot():
    outages = list(
        Incident.objects.order_by("service_id", "country", "started_at").values(
            "service_id", "country", "level", "started_at", "peak_reports", "ended_at"
        )
    )
    statuses = list(
        ServiceStatus.objects.order_by("service_id").values(
            "service_id", "level", "since", "current", "expected", "threshold"
        )
    )
    return outages, statuses


@pytest.mark.django_db
def test_an_incremental_pass_decides_as_a_cold_one(tiktok, gmail):
    steady_history(tiktok)
    steady_history(gmail, seed=2)
    burst(tiktok, end=NOW - timedelta(minutes=3))
    services._kept_grids.clear()
    rollup_run(now=NOW - timedelta(minutes=3))
    detection_run(now=NOW - timedelta(minutes=3))
    # The burst goes on, some of it committed late.
    burst(tiktok, minutes=4, per_minute=50, end=NOW)
    rollup_run(now=NOW)
    detection_run(now=NOW)
    warm = snapshot()
    services._kept_grids.clear()
    detection_run(now=NOW)
    assert snapshot() == warm
    assert any(o["level"] == "outage" for o in warm[0])

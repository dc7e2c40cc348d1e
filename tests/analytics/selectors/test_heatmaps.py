"""Heatmaps: day-long windows read whole hours from the hour totals and only the ragged ends
from the minute rows (the sums must be exactly those of the minute rows over the window);
regions are judged against their usual share, by the time of day the window covers."""

import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest

from analytics.models import HourCount, MinuteCount
from analytics.rollup import totals_resum
from analytics.selectors import heatmaps
from analytics.selectors.shares import share_hours
from analytics.selectors.windows import WINDOWS

pytestmark = pytest.mark.django_db


NOW = datetime(2026, 11, 20, 14, 37, 20, tzinfo=UTC)


@pytest.fixture
def minutes(tiktok, gmail):
    rng = random.Random(7)
    rows = []
    start = NOW.replace(second=0) - timedelta(hours=50)
    for m in range(50 * 60 + 1):
        for service in (tiktok, gmail):
            for country, sub in (("US", "US-CA"), ("US", "US-NY"), ("US", ""), ("BR", "BR-SP")):
                if rng.random() < 0.3:
                    rows.append(
                        MinuteCount(
                            service=service,
                            minute=start + timedelta(minutes=m),
                            country=country,
                            subdivision=sub,
                            problem=rng.choice(["login", "upload"]),
                            count=rng.randint(1, 9),
                        )
                    )
    MinuteCount.objects.bulk_create(rows)
    totals_resum(since=start, until=NOW.replace(second=0) + timedelta(minutes=1))
    return rows


def expected_sums(rows, window, key, keep):
    until = NOW.replace(second=0) + timedelta(minutes=1)
    sums: dict[str, int] = defaultdict(int)
    for r in rows:
        if until - window <= r.minute < until and keep(r):
            sums[key(r)] += r.count
    return dict(sums)


@pytest.mark.parametrize("window", ["1h", "6h", "24h"])
def test_subdivision_heatmap_sums_the_window_exactly(minutes, tiktok, window):
    rows = heatmaps.service_heatmap(service_id=tiktok.id, window=window, now=NOW, country="US")
    want = expected_sums(
        minutes,
        WINDOWS[window],
        key=lambda r: r.subdivision,
        keep=lambda r: r.service_id == tiktok.id and r.country == "US" and r.subdivision,
    )
    assert {r.code: r.reports for r in rows if r.reports} == want
    assert set(want) == {"US-CA", "US-NY"}


@pytest.mark.parametrize("window", ["15m", "24h"])
def test_country_heatmaps_sum_the_window_exactly(minutes, tiktok, window):
    span = WINDOWS[window]
    rows = heatmaps.service_heatmap(service_id=tiktok.id, window=window, now=NOW)
    want = expected_sums(
        minutes, span, key=lambda r: r.country, keep=lambda r: r.service_id == tiktok.id
    )
    assert {r.code: r.reports for r in rows if r.reports} == want
    world = heatmaps.world_heatmap(window=window, now=NOW)
    want = expected_sums(minutes, span, key=lambda r: r.country, keep=lambda r: True)
    assert {r.code: r.reports for r in world if r.reports} == want


@pytest.fixture
def day_and_night(tiktok):
    """A week in which Brazil sends all of TikTok's reports from 00:00 to 11:59 UTC and the
    US all of them from 12:00 to 23:59; the service expects 10 reports an hour."""
    from analytics.models import Baseline, RegionHour

    hour = NOW.replace(minute=0, second=0, microsecond=0)
    RegionHour.objects.bulk_create(
        RegionHour(service=tiktok, hour=t, country="BR" if t.hour < 12 else "US", count=10)
        for t in (hour - timedelta(hours=h) for h in range(1, 24 * 7 + 1))
    )
    Baseline.objects.bulk_create(
        Baseline(
            service=tiktok,
            country="",
            hour=hour - timedelta(hours=h),
            expected=10 / 60,
            computed_at=NOW,
        )
        for h in range(-1, 30)
    )
    totals_resum(since=hour - timedelta(days=8), until=hour)
    return tiktok


def test_a_days_window_expects_each_country_its_all_day_share(day_and_night):
    # 14:37 UTC: the US hours. The last hour expects only US reports ...
    hour = {
        r.code: r.expected
        for r in heatmaps.service_heatmap(service_id=day_and_night.id, window="1h", now=NOW)
    }
    assert hour == {"US": pytest.approx(10.0, abs=0.01)}
    # ... the last day half from each country, whatever the time of day now.
    day = {
        r.code: r.expected
        for r in heatmaps.service_heatmap(service_id=day_and_night.id, window="24h", now=NOW)
    }
    assert day == {"BR": pytest.approx(120.0, abs=0.01), "US": pytest.approx(120.0, abs=0.01)}
    world = {r.code: r.expected for r in heatmaps.world_heatmap(window="24h", now=NOW)}
    assert world == day


def test_country_expectation_is_its_usual_share_of_the_service(data, tiktok):
    rows = heatmaps.service_heatmap(service_id=tiktok.id, window="1h", now=data)
    by_code = {r.code: r for r in rows}
    # TikTok expects 10 an hour; Brazil usually sends 40% of them (more if some of the
    # spike's minutes fell in the last hour, which counts among the usual hours).
    hours = HourCount.objects.filter(
        service=tiktok,
        hour__in=share_hours(data.replace(minute=0, second=0, microsecond=0), timedelta(hours=1)),
    )
    share = sum(h.count for h in hours if h.country == "BR") / sum(h.count for h in hours)
    assert 0.4 <= share < 0.47
    assert by_code["BR"].expected == pytest.approx(10 * share, abs=0.05)
    assert by_code["BR"].reports == 60
    assert by_code["BR"].ratio == pytest.approx(60 / (10 * share), rel=0.02)


def test_subdivisions_split_the_country_by_their_share(data, tiktok):
    rows = heatmaps.service_heatmap(service_id=tiktok.id, window="15m", now=data, country="US")
    assert [(r.code, r.level, r.reports) for r in rows] == [("US-CA", "subdivision", 15)]

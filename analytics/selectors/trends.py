"""Reports over time: the chart's buckets against the expected count, its usual range, the
outage line and the incident level; the home page's sparklines; an incident's series."""

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import Sum

from analytics.models import Baseline, HourCount, MinuteCount, ServiceHour, ServiceMinute
from analytics.selectors.shares import hourly_shares
from analytics.sql import epoch_seconds
from analytics.thresholds import outage_threshold
from common.cache import cached, minute_key
from common.time import floor_hour, floor_minute
from outages.models import LEVEL_RANK, Incident, Level

# Chart ranges: how far back, and how wide a bucket (so every range has 72–168 points).
TREND_RANGES: dict[str, tuple[timedelta, timedelta]] = {
    "6h": (timedelta(hours=6), timedelta(minutes=5)),
    "24h": (timedelta(hours=24), timedelta(minutes=15)),
    "7d": (timedelta(days=7), timedelta(hours=1)),
}


def sparklines(*, now: datetime) -> dict[int, list[int]]:
    """Service id -> reports in each of the last 24 hours (oldest first, current hour last)."""

    def compute() -> dict[int, list[int]]:
        current = floor_hour(now)
        first = current - timedelta(hours=23)
        out: dict[int, list[int]] = defaultdict(lambda: [0] * 24)
        rows = ServiceHour.objects.filter(hour__gte=first, hour__lte=current).values_list(
            "service_id", "hour", "count"
        )
        for sid, hour, n in rows:
            index = int((hour - first).total_seconds() // 3600)
            if 0 <= index < 24:
                out[sid][index] = n
        return dict(out)

    return cached(f"pages:spark:{minute_key(now)}", compute)


# Bucket widths of the trend API. Up to 15 minutes they are summed from minute counts, from an
# hour on from hour totals (a year of 1d buckets is 8,760 rows, not 525,600).
BUCKETS: dict[str, timedelta] = {
    "1m": timedelta(minutes=1),
    "5m": timedelta(minutes=5),
    "15m": timedelta(minutes=15),
    "1h": timedelta(hours=1),
    "1d": timedelta(days=1),
}
# One call returns at most this many buckets (a day of minutes, four years of days).
MAX_BUCKETS = 1440
# Minute counts are the only ones that know the problem, so a problem series reads them even
# for hour and day buckets: its range is capped so that stays one cheap query.
MAX_PROBLEM_SPAN = timedelta(days=7)
# A problem's expectation is the service's times the problem's share over the preceding day.
PROBLEM_SHARE_SPAN = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class TrendBucket:
    t: datetime
    reports: int
    expected: float | None
    low: float | None
    high: float | None
    threshold: float | None
    # The highest level reached by an incident of this scope open during the bucket.
    level: str = Level.OK


def _usual_range(expected: float) -> tuple[float, float]:
    # Two standard deviations of a Poisson count around the expectation: the band the chart
    # shades. Real counts are somewhat more variable; the detector models that, the band is
    # a guide for the eye.
    spread = 2 * math.sqrt(expected)
    return max(expected - spread, 0.0), expected + spread


def bucket_floor(t: datetime, width: timedelta) -> datetime:
    """Start of the bucket holding `t`, aligned to the clock (…:00, :15; midnight UTC)."""
    step = int(width.total_seconds())
    seconds = int(t.timestamp())
    return datetime.fromtimestamp(seconds - seconds % step, tz=UTC)


def _expected_per_minute(
    *, service_id: int, since: datetime, until: datetime, country: str, problem: str
) -> dict[datetime, float]:
    """Hour -> expected reports per minute for the series, from the stored baselines.

    A country with a baseline of its own uses it; any other country gets its usual share of
    the service's expectation at that hour of the day. A problem scales that by its share of
    the day before the range.
    """
    hours = Baseline.objects.filter(
        service_id=service_id, hour__gte=floor_hour(since), hour__lt=until
    )
    per_minute: dict[datetime, float] = {}
    if country:
        per_minute = dict(hours.filter(country=country).values_list("hour", "expected"))
    if not per_minute:
        per_minute = dict(hours.filter(country="").values_list("hour", "expected"))
        if country and per_minute:
            shares = hourly_shares(service_id=service_id, country=country, until=until)
            per_minute = {h: e * shares[h.hour] for h, e in per_minute.items() if h.hour in shares}
    if problem and per_minute:
        ref = MinuteCount.objects.filter(
            service_id=service_id, minute__gte=since - PROBLEM_SHARE_SPAN, minute__lt=since
        )
        if country:
            ref = ref.filter(country=country)
        by_problem = dict(
            ref.values("problem").annotate(n=Sum("count")).values_list("problem", "n")
        )
        total = sum(by_problem.values())
        if not total:
            return {}
        share = by_problem.get(problem, 0) / total
        per_minute = {h: e * share for h, e in per_minute.items()}
    return per_minute


def _incident_spans(
    *, service_id: int, since: datetime, until: datetime, country: str
) -> list[tuple[datetime, datetime | None, str]]:
    qs = Incident.objects.filter(service_id=service_id, started_at__lt=until).exclude(
        ended_at__lte=since
    )
    if country:
        # A country's chart shows its own incidents and the service's worldwide ones.
        qs = qs.filter(country__in=["", country])
    return list(qs.values_list("started_at", "ended_at", "max_level"))


def _bucket_counts(
    *,
    service_id: int,
    since: datetime,
    until: datetime,
    bucket: timedelta,
    country: str,
    problem: str,
) -> dict[datetime, int]:
    """Reports per clock-aligned bucket in [since, until), from the smallest table that
    holds the series: the service's hour or minute totals for the whole service, hour counts
    or minute counts for a country, minute counts for a problem."""
    if bucket >= timedelta(hours=1) and not problem:
        table, col = (ServiceHour if not country else HourCount)._meta.db_table, "hour"
    elif not country and not problem:
        table, col = ServiceMinute._meta.db_table, "minute"
    else:
        table, col = MinuteCount._meta.db_table, "minute"
    adapt = connection.ops.adapt_datetimefield_value
    where = [f"service_id = %s AND {col} >= %s AND {col} < %s"]
    params: list[Any] = [service_id, adapt(since), adapt(until)]
    if country:
        where.append("country = %s")
        params.append(country)
    if problem:
        where.append("problem = %s")
        params.append(problem)
    step = int(bucket.total_seconds())
    # Buckets are summed by the database: a day of minutes is 1,440 rows, its 15-minute
    # buckets 96.
    epoch = epoch_seconds(col)
    sql = (
        f"SELECT {epoch} - {epoch} %% {step} AS b, SUM(count) FROM {table} "
        f"WHERE {' AND '.join(where)} GROUP BY b"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {datetime.fromtimestamp(b, tz=UTC): int(n) for b, n in cursor.fetchall()}


def service_series(
    *,
    service_id: int,
    since: datetime,
    until: datetime,
    bucket: timedelta,
    now: datetime,
    country: str = "",
    problem: str = "",
) -> list[TrendBucket]:
    """Reports per bucket in [since, until) with the expected count, its usual range, the
    outage threshold and the incident level, oldest first. `since` is aligned down to the
    bucket; a last bucket cut short by `until` (the one in progress) expects proportionally
    less."""

    def compute() -> list[TrendBucket]:
        first = bucket_floor(since, bucket)
        counts = _bucket_counts(
            service_id=service_id,
            since=first,
            until=until,
            bucket=bucket,
            country=country,
            problem=problem,
        )
        per_minute = _expected_per_minute(
            service_id=service_id, since=first, until=until, country=country, problem=problem
        )
        spans = _incident_spans(service_id=service_id, since=first, until=until, country=country)
        buckets = []
        t = first
        while t < until:
            bucket_end = min(t + bucket, until)
            minute = t
            total = 0.0
            known = False
            while minute < bucket_end:
                hour = minute.replace(minute=0)
                upto = min(hour + timedelta(hours=1), bucket_end)
                if hour in per_minute:
                    known = True
                    total += per_minute[hour] * (upto - minute).total_seconds() / 60
                minute = upto
            expected = round(total, 2) if known else None
            low, high = _usual_range(expected) if expected is not None else (None, None)
            level = Level.OK
            for started, ended, max_level in spans:
                if started < bucket_end and (ended is None or ended > t):
                    if LEVEL_RANK[Level(max_level)] > LEVEL_RANK[level]:
                        level = Level(max_level)
            buckets.append(
                TrendBucket(
                    t=t,
                    reports=counts.get(t, 0),
                    expected=expected,
                    low=round(low, 2) if low is not None else None,
                    high=round(high, 2) if high is not None else None,
                    threshold=(
                        round(outage_threshold(expected), 2) if expected is not None else None
                    ),
                    level=str(level),
                )
            )
            t += bucket
        return buckets

    key = (
        f"api:series:{service_id}:{int(since.timestamp())}:{int(until.timestamp())}:"
        f"{int(bucket.total_seconds())}:{country}:{problem}:{minute_key(now)}"
    )
    return cached(key, compute)


def service_trend(*, service_id: int, range_name: str, now: datetime) -> list[TrendBucket]:
    """The chart's ranges: reports per clock-aligned bucket over the last 6 h, 24 h or 7 d,
    oldest first; the last bucket is the one in progress."""
    since, until, width = trend_window(range_name=range_name, now=now)
    return service_series(service_id=service_id, since=since, until=until, bucket=width, now=now)


def trend_window(*, range_name: str, now: datetime) -> tuple[datetime, datetime, timedelta]:
    """(since, until, bucket width) of a chart range: whole buckets aligned to the clock, the
    last one the bucket in progress, up to the end of the current minute."""
    span, width = TREND_RANGES[range_name]
    end = floor_minute(now)
    return bucket_floor(end, width) - span + width, end + timedelta(minutes=1), width


# Bucket widths tried for an incident's series, smallest first, and how many buckets it may
# have: a 30-minute incident is drawn per minute, a three-day one per hour.
INCIDENT_SERIES_BUCKETS = ("1m", "5m", "15m", "1h", "1d")
INCIDENT_SERIES_MAX_BUCKETS = 240
# The series starts this long before the incident (and ends this long after it), so the
# rise and the return to normal are visible.
INCIDENT_SERIES_PADDING = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class IncidentSeries:
    bucket: str
    since: datetime
    until: datetime
    buckets: list[TrendBucket]


def incident_series(*, incident: Incident, now: datetime) -> IncidentSeries:
    """The incident's scope reported per bucket from an hour before it to an hour after it
    (or now, while it is open)."""
    until = min(
        (incident.ended_at or now) + INCIDENT_SERIES_PADDING,
        floor_minute(now) + timedelta(minutes=1),
    )
    since = incident.started_at - INCIDENT_SERIES_PADDING
    name = INCIDENT_SERIES_BUCKETS[-1]
    for name in INCIDENT_SERIES_BUCKETS:
        if (until - bucket_floor(since, BUCKETS[name])) / BUCKETS[
            name
        ] <= INCIDENT_SERIES_MAX_BUCKETS:
            break
    width = BUCKETS[name]
    buckets = service_series(
        service_id=incident.service_id,
        since=since,
        until=until,
        bucket=width,
        now=now,
        country=incident.country,
    )
    return IncidentSeries(
        bucket=name, since=bucket_floor(since, width), until=until, buckets=buckets
    )

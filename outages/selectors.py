"""Reads for pages and the read API. Everything here comes from the rollups (MinuteCount and
the totals summed from it: per region, country and service, per minute and hour), the stored
baselines and the detection results (ServiceStatus, Outage): never from the raw report table.
The heavier reads are cached for a minute, keyed by the minute they describe, so a busy page
costs about one computation per minute however many people load it.
"""

import logging
import math
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from django.core.cache import cache
from django.db import connection
from django.db.models import Case, F, FloatField, Q, QuerySet, Sum, Value, When
from django.db.models.functions import ExtractHour
from redis.exceptions import RedisError

from analytics.models import (
    Baseline,
    CountryHour,
    CountryMinute,
    HourCount,
    MinuteCount,
    RegionHour,
    ServiceHour,
    ServiceMinute,
)
from analytics.sql import epoch_seconds
from analytics.thresholds import MIN_EXCESS, OUTAGE_RATIO
from outages.models import (
    LEVEL_RANK,
    PROBLEM_LABELS,
    Category,
    Level,
    Outage,
    Service,
    Subscription,
    WebhookDelivery,
)
from outages.regions import country_name, subdivision_name


@dataclass(frozen=True, slots=True)
class ServiceInfo:
    id: int
    slug: str
    name: str
    problems: tuple[str, ...]


def service_infos() -> dict[str, ServiceInfo]:
    """The whole catalogue in one query, keyed by slug: what batch validation needs."""
    rows = Service.objects.values_list("id", "slug", "name", "problems")
    return {slug: ServiceInfo(id, slug, name, tuple(problems)) for id, slug, name, problems in rows}


def service_info(*, slug: str) -> dict[str, ServiceInfo]:
    """The catalogue restricted to one slug (empty if unknown): one indexed lookup."""
    rows = Service.objects.filter(slug=slug.lower()).values_list("id", "slug", "name", "problems")
    return {s: ServiceInfo(id, s, name, tuple(problems)) for id, s, name, problems in rows}


def service_list() -> list[Service]:
    return list(Service.objects.order_by("name"))


# Pages and the API cache their reads this long; the rollup runs once a minute anyway.
CACHE_TTL = 60
# A missing key is computed by one request; others wait this long for it (seconds), polling.
# The lock outlives no computation that a page should take.
STAMPEDE_WAIT = 3.0
STAMPEDE_POLL = 0.02
STAMPEDE_LOCK_TTL = 10
# Chart ranges: how far back, and how wide a bucket (so every range has 72–168 points).
TREND_RANGES: dict[str, tuple[timedelta, timedelta]] = {
    "6h": (timedelta(hours=6), timedelta(minutes=5)),
    "24h": (timedelta(hours=24), timedelta(minutes=15)),
    "7d": (timedelta(days=7), timedelta(hours=1)),
}
# Windows for maps, regions and problems.
WINDOWS: dict[str, timedelta] = {
    "15m": timedelta(minutes=15),
    "1h": timedelta(hours=1),
    "6h": timedelta(hours=6),
    "24h": timedelta(hours=24),
}
# A region's usual share of reports is measured over the last week of hourly totals.
SHARE_SPAN = timedelta(days=7)
SHARE_HOURS = 2
# Subdivisions have no hourly totals; their share within the country comes from the last day.
SUBDIVISION_SHARE_SPAN = timedelta(hours=24)
# Ratio = reports / max(expected, floor): a region that usually sends 0.01 reports an hour is
# not "300 times normal" because of three reports.
EXPECTED_FLOOR = 3.0

T = TypeVar("T")

logger = logging.getLogger(__name__)


def floor_minute(t: datetime) -> datetime:
    return t.replace(second=0, microsecond=0)


def _cached(key: str, compute: Callable[[], T], ttl: int = CACHE_TTL) -> T:
    """compute() once per key while the key lives. With the cache down, pages still work
    (each request computes), which matters most exactly when everything else is failing.

    When a key is missing, one request computes it and the others arriving meanwhile wait for
    its result (up to STAMPEDE_WAIT, then compute themselves): at the first second of a minute
    during a flood, every visitor of the home page would otherwise compute the same thing."""
    try:
        value: T | None = cache.get(key)
    except (RedisError, OSError) as exc:
        logger.warning("cache read failed, computing %s: %s", key, exc)
        return compute()
    if value is not None:
        return value
    lock = f"lock:{key}"
    try:
        mine = cache.add(lock, 1, STAMPEDE_LOCK_TTL)
    except (RedisError, OSError):
        mine = True
    if not mine:
        deadline = time.monotonic() + STAMPEDE_WAIT
        while time.monotonic() < deadline:
            time.sleep(STAMPEDE_POLL)
            try:
                value = cache.get(key)
            except (RedisError, OSError):
                break
            if value is not None:
                return value
    try:
        value = compute()
        try:
            cache.set(key, value, ttl)
        except (RedisError, OSError) as exc:
            logger.warning("cache write failed for %s: %s", key, exc)
    finally:
        if mine:
            try:
                cache.delete(lock)
            except (RedisError, OSError) as exc:
                logger.warning("cache lock release failed for %s: %s", key, exc)
    return value


def _minute_key(now: datetime) -> str:
    return floor_minute(now).strftime("%Y%m%d%H%M")


def ratio(reports: float, expected: float) -> float:
    return round(reports / max(expected, EXPECTED_FLOOR), 2)


def _overlap_minutes(hour: datetime, since: datetime, until: datetime) -> float:
    lo, hi = max(hour, since), min(hour + timedelta(hours=1), until)
    return max((hi - lo).total_seconds() / 60, 0.0)


def _window_sums(
    *,
    hours: str,
    minutes: str,
    key: str,
    where: list[str],
    params: list[Any],
    since: datetime,
    until: datetime,
) -> dict[Any, int]:
    """`key` -> reports in [since, until): the whole hours from the table of hour totals
    `hours`, the ragged ends from the table of minute totals `minutes`, both filtered by
    `where`. A day of a busy service's states is a few hundred hour rows and an hour of
    minutes, not tens of thousands of minute rows."""
    first_hour = since.replace(minute=0, second=0, microsecond=0)
    if first_hour < since:
        first_hour += timedelta(hours=1)
    last_hour = until.replace(minute=0, second=0, microsecond=0)
    adapt = connection.ops.adapt_datetimefield_value
    conditions = " AND ".join([*where, "{col} >= %s", "{col} < %s"])
    parts: list[str] = []
    args: list[Any] = []
    ends = [(since, until)]
    if first_hour < last_hour:
        parts.append(f"SELECT {key}, count FROM {hours} WHERE {conditions.format(col='hour')}")
        args += [*params, adapt(first_hour), adapt(last_hour)]
        ends = [(since, first_hour), (last_hour, until)]
    for lo, hi in ends:
        if lo < hi:
            parts.append(
                f"SELECT {key}, count FROM {minutes} WHERE {conditions.format(col='minute')}"
            )
            args += [*params, adapt(lo), adapt(hi)]
    if not parts:
        return {}
    sql = f"SELECT {key}, SUM(count) FROM ({' UNION ALL '.join(parts)}) t GROUP BY {key}"
    with connection.cursor() as cursor:
        cursor.execute(sql, args)
        return {code: int(n) for code, n in cursor.fetchall()}


def _baseline_totals(
    *, since: datetime, until: datetime, service_id: int | None = None, country: str | None = None
) -> dict[tuple[int, str], float]:
    """Reports expected over [since, until) per stored baseline series (service, country),
    summed by the database: a day of a service's countries is hundreds of rows."""
    first = since.replace(minute=0, second=0, microsecond=0)
    last = (until - timedelta(microseconds=1)).replace(minute=0, second=0, microsecond=0)
    # Hours inside the range count 60 minutes; the first and last only their overlap.
    minutes = Case(
        When(hour=first, then=Value(_overlap_minutes(first, since, until))),
        When(hour=last, then=Value(_overlap_minutes(last, since, until))),
        default=Value(60.0),
        output_field=FloatField(),
    )
    qs = Baseline.objects.filter(hour__gte=first, hour__lt=until)
    if service_id is not None:
        qs = qs.filter(service_id=service_id)
    if country is not None:
        qs = qs.filter(country=country)
    rows = (
        qs.values("service_id", "country")
        .annotate(total=Sum(F("expected") * minutes))
        .values_list("service_id", "country", "total")
    )
    return {(sid, cc): total for sid, cc, total in rows}


def _share_hours(hour: datetime, span: timedelta) -> list[datetime]:
    """The hours of the SHARE_SPAN before `hour` at the times of day that a window of `span`
    ending in `hour` covers, ± SHARE_HOURS (for a day's window, every hour: its countries'
    all-day shares). The hours themselves, not an hour-of-day filter, so that reads are an
    index lookup instead of a scan of the whole week."""
    back = max(math.ceil(span / timedelta(hours=1)) - 1, 0)
    offsets = range(-back - SHARE_HOURS, SHARE_HOURS + 1)
    if len(offsets) >= 24:
        return [
            hour - timedelta(hours=h) for h in range(1, int(SHARE_SPAN / timedelta(hours=1)) + 1)
        ]
    return [
        t
        for days in range(SHARE_SPAN.days + 1)
        for d in offsets
        if hour - SHARE_SPAN <= (t := hour - timedelta(days=days, hours=-d)) < hour
    ]


def _country_shares(
    *,
    now: datetime,
    span: timedelta,
    service_id: int | None = None,
    country: str | None = None,
) -> dict[tuple[int, str], float]:
    """(service, country) -> the country's share of the service's reports in the hours of the
    day that a window of `span` ending now covers (± SHARE_HOURS) over the last week: at
    09:00 UTC Asia is awake and the Americas asleep, and an all-day share would call that an
    anomaly in the last hour, while over the last day the all-day share is the right one.

    Shares move with the hour of the day, not the minute: computed once an hour (a week of
    hour totals for every service is the heaviest read of the live map)."""
    hour = now.replace(minute=0, second=0, microsecond=0)

    def compute() -> dict[tuple[int, str], float]:
        qs = HourCount.objects.filter(hour__in=_share_hours(hour, span))
        if service_id is not None:
            qs = qs.filter(service_id=service_id)
        rows = list(
            qs.values("service_id", "country")
            .annotate(n=Sum("count"))
            .values_list("service_id", "country", "n")
        )
        totals: dict[int, int] = defaultdict(int)
        for sid, _, n in rows:
            totals[sid] += n
        return {(sid, cc): n / totals[sid] for sid, cc, n in rows if totals[sid]}

    scope = "all" if service_id is None else service_id
    key = f"pages:shares:{scope}:{span.total_seconds():.0f}:{hour:%Y%m%d%H}"
    value = _cached(key, compute, ttl=3600)
    if country is None:
        return value
    return {k: v for k, v in value.items() if k[1] == country}


# ---------------------------------------------------------------------------------- status


@dataclass(frozen=True, slots=True)
class ServiceRow:
    id: int
    slug: str
    name: str
    category: str
    category_label: str
    level: str
    since: datetime | None
    current: float
    expected: float

    @property
    def excess(self) -> float:
        return self.current - self.expected

    @property
    def level_label(self) -> str:
        return str(Level(self.level).label)


def service_statuses(
    *,
    slug: str | None = None,
    category: str | None = None,
    level: str | None = None,
    search: str | None = None,
) -> list[ServiceRow]:
    """Every service (or the one with `slug`, or those matching the filters) with its current
    level from the last detection pass, by name: one query."""
    labels = dict(Category.choices)
    qs = Service.objects.order_by("name")
    if slug is not None:
        qs = qs.filter(slug=slug)
    if category:
        qs = qs.filter(category=category)
    if level == Level.OK:
        # A service no detection pass has seen yet has no status row: it is "ok".
        qs = qs.filter(Q(status__level=Level.OK) | Q(status__isnull=True))
    elif level:
        qs = qs.filter(status__level=level)
    if search:
        qs = qs.filter(Q(name__icontains=search) | Q(slug__icontains=search))
    rows = qs.values_list(
        "id",
        "slug",
        "name",
        "category",
        "status__level",
        "status__since",
        "status__current",
        "status__expected",
    )
    return [
        ServiceRow(
            id=sid,
            slug=slug,
            name=name,
            category=category,
            category_label=str(labels.get(category, category)),
            level=level or Level.OK,
            since=since,
            current=current or 0.0,
            expected=expected or 0.0,
        )
        for sid, slug, name, category, level, since, current, expected in rows
    ]


def problems_now(rows: Iterable[ServiceRow]) -> list[ServiceRow]:
    """Services in outage or with possible problems: worst level first, then largest excess."""
    bad = [r for r in rows if r.level != Level.OK]
    return sorted(bad, key=lambda r: (-LEVEL_RANK[Level(r.level)], -r.excess, r.name))


def sparklines(*, now: datetime) -> dict[int, list[int]]:
    """Service id -> reports in each of the last 24 hours (oldest first, current hour last)."""

    def compute() -> dict[int, list[int]]:
        current = now.replace(minute=0, second=0, microsecond=0)
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

    return _cached(f"pages:spark:{_minute_key(now)}", compute)


def report_total(*, service_id: int, since: datetime, until: datetime) -> int:
    """Reports of one service counted by the rollup in [since, until): whole hours from the
    service's hour totals, the ragged ends from its minute totals."""
    got = _window_sums(
        hours=ServiceHour._meta.db_table,
        minutes=ServiceMinute._meta.db_table,
        key="service_id",
        where=["service_id = %s"],
        params=[service_id],
        since=since,
        until=until,
    )
    return got.get(service_id, 0)


def report_counts(*, service_id: int, now: datetime) -> tuple[int, int]:
    """Reports in the last 15 minutes and the last 24 hours (whole minutes, current one
    included), from the rollups."""
    minute = floor_minute(now)
    until = minute + timedelta(minutes=1)

    def compute() -> tuple[int, int]:
        return (
            report_total(service_id=service_id, since=minute - timedelta(minutes=14), until=until),
            report_total(service_id=service_id, since=until - timedelta(hours=24), until=until),
        )

    return _cached(f"pages:counts:{service_id}:{_minute_key(now)}", compute)


def report_total_last(*, service_id: int, now: datetime, span: timedelta) -> int:
    """Reports in the last `span` (whole minutes, the current one included)."""
    until = floor_minute(now) + timedelta(minutes=1)
    return report_total(service_id=service_id, since=until - span, until=until)


# ----------------------------------------------------------------------------------- trend

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


def outage_threshold(expected: float) -> float:
    """The outage line of a bucket: max(OUTAGE_RATIO × expected, expected + MIN_EXCESS).

    The detector calls nothing an outage below OUTAGE_RATIO (2) times the expectation and
    MIN_EXCESS (5) extra reports; charts, the API and the status line all show this floor.
    """
    return max(expected * OUTAGE_RATIO, expected + MIN_EXCESS)


def bucket_floor(t: datetime, width: timedelta) -> datetime:
    """Start of the bucket holding `t`, aligned to the clock (…:00, :15; midnight UTC)."""
    step = int(width.total_seconds())
    seconds = int(t.timestamp())
    return datetime.fromtimestamp(seconds - seconds % step, tz=UTC)


def _hourly_shares(*, service_id: int, country: str, until: datetime) -> dict[int, float]:
    """Hour of day (UTC) -> the country's share of the service's reports in the same hours of
    the day (± SHARE_HOURS) over the week before `until`."""
    rows = (
        HourCount.objects.filter(
            service_id=service_id, hour__gte=until - SHARE_SPAN, hour__lt=until
        )
        .annotate(hod=ExtractHour("hour"))
        .values("hod", "country")
        .annotate(n=Sum("count"))
        .values_list("hod", "country", "n")
    )
    mine: dict[int, int] = defaultdict(int)
    total: dict[int, int] = defaultdict(int)
    for hod, cc, n in rows:
        total[hod] += n
        if cc == country:
            mine[hod] += n
    shares = {}
    for hod in range(24):
        around = [(hod + d) % 24 for d in range(-SHARE_HOURS, SHARE_HOURS + 1)]
        denominator = sum(total[h] for h in around)
        if denominator:
            shares[hod] = sum(mine[h] for h in around) / denominator
    return shares


def _expected_per_minute(
    *, service_id: int, since: datetime, until: datetime, country: str, problem: str
) -> dict[datetime, float]:
    """Hour -> expected reports per minute for the series, from the stored baselines.

    A country with a baseline of its own uses it; any other country gets its usual share of
    the service's expectation at that hour of the day. A problem scales that by its share of
    the day before the range.
    """
    hours = Baseline.objects.filter(
        service_id=service_id, hour__gte=since.replace(minute=0, second=0), hour__lt=until
    )
    per_minute: dict[datetime, float] = {}
    if country:
        per_minute = dict(hours.filter(country=country).values_list("hour", "expected"))
    if not per_minute:
        per_minute = dict(hours.filter(country="").values_list("hour", "expected"))
        if country and per_minute:
            shares = _hourly_shares(service_id=service_id, country=country, until=until)
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
    qs = Outage.objects.filter(service_id=service_id, started_at__lt=until).exclude(
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
        f"{int(bucket.total_seconds())}:{country}:{problem}:{_minute_key(now)}"
    )
    return _cached(key, compute)


def service_trend(*, service_id: int, range_name: str, now: datetime) -> list[TrendBucket]:
    """The chart's ranges: reports per clock-aligned bucket over the last 6 h, 24 h or 7 d,
    oldest first; the last bucket is the one in progress."""
    span, width = TREND_RANGES[range_name]
    end = floor_minute(now)
    last = bucket_floor(end, width)
    return service_series(
        service_id=service_id,
        since=last - span + width,
        until=end + timedelta(minutes=1),
        bucket=width,
        now=now,
    )


# ----------------------------------------------------------------------------- breakdowns


@dataclass(frozen=True, slots=True)
class ProblemRow:
    code: str
    label: str
    reports: int
    share: float


def service_problems(*, service_id: int, window: str, now: datetime) -> list[ProblemRow]:
    """Problems reported for one service in the window, most reported first."""

    def compute() -> list[ProblemRow]:
        since = floor_minute(now) + timedelta(minutes=1) - WINDOWS[window]
        rows = list(
            MinuteCount.objects.filter(service_id=service_id, minute__gte=since)
            .values("problem")
            .annotate(n=Sum("count"))
            .values_list("problem", "n")
        )
        total = sum(n for _, n in rows)
        ordered = sorted(rows, key=lambda r: (-r[1], r[0]))
        return [
            ProblemRow(
                code=code,
                label=PROBLEM_LABELS.get(code, code),
                reports=n,
                share=round(n / total, 3) if total else 0.0,
            )
            for code, n in ordered
        ]

    return _cached(f"pages:problems:{service_id}:{window}:{_minute_key(now)}", compute)


@dataclass(frozen=True, slots=True)
class RegionRow:
    code: str
    name: str
    reports: int
    expected: float
    ratio: float
    level: str  # "country" or "subdivision"


def _region_rows(
    reports: dict[str, int], expected: dict[str, float], level: str
) -> list[RegionRow]:
    name = country_name if level == "country" else subdivision_name
    rows = [
        RegionRow(
            code=code,
            name=name(code),
            reports=reports.get(code, 0),
            expected=round(expected.get(code, 0.0), 2),
            ratio=ratio(reports.get(code, 0), expected.get(code, 0.0)),
            level=level,
        )
        for code in set(reports) | {c for c, e in expected.items() if e >= 0.5}
        if code
    ]
    return sorted(rows, key=lambda r: (-r.ratio, -r.reports, r.name))


def _world_shares(*, now: datetime, span: timedelta) -> dict[str, float]:
    """Country -> its share of all services' reports in the hours of the day that a window of
    `span` ending now covers (± SHARE_HOURS) over the last week; computed once an hour."""
    hour = now.replace(minute=0, second=0, microsecond=0)

    def compute() -> dict[str, float]:
        rows = list(
            CountryHour.objects.filter(hour__in=_share_hours(hour, span))
            .values("country")
            .annotate(n=Sum("count"))
            .values_list("country", "n")
        )
        total = sum(n for _, n in rows)
        return {cc: n / total for cc, n in rows if total}

    key = f"pages:worldshares:{span.total_seconds():.0f}:{hour:%Y%m%d%H}"
    return _cached(key, compute, ttl=3600)


def service_heatmap(
    *, service_id: int, window: str, now: datetime, country: str = ""
) -> list[RegionRow]:
    """Countries (or, given a country, its subdivisions) with reports against what each
    usually sends in the window, largest ratio first.

    A country's expectation is its own baseline when it is busy enough to have one, else its
    usual share of the service's reports times the service's expectation.
    """

    def compute() -> list[RegionRow]:
        until = floor_minute(now) + timedelta(minutes=1)
        since = until - WINDOWS[window]
        minutes = MinuteCount._meta.db_table
        where: list[str] = ["service_id = %s"]
        params: list[Any] = [service_id]
        if country:
            key, hours = "subdivision", RegionHour._meta.db_table
            where += ["country = %s", "subdivision <> ''"]
            params.append(country)
        else:
            key, hours = "country", HourCount._meta.db_table

        def sums(lo: datetime, hi: datetime) -> dict[str, int]:
            return _window_sums(
                hours=hours,
                minutes=minutes,
                key=key,
                where=where,
                params=params,
                since=lo,
                until=hi,
            )

        reports = sums(since, until)
        baselines = _baseline_totals(since=since, until=until, service_id=service_id)
        service_expected = baselines.get((service_id, ""), 0.0)
        shares = _country_shares(now=now, span=WINDOWS[window], service_id=service_id)
        country_expected = {
            cc: baselines.get((service_id, cc), share * service_expected)
            for (_, cc), share in shares.items()
        }
        if not country:
            return _region_rows(reports, country_expected, "country")
        # Subdivisions: the country's expectation split by each one's share of the whole
        # hours of the day before.
        before = since.replace(minute=0, second=0, microsecond=0)
        ref = sums(before - SUBDIVISION_SHARE_SPAN, before)
        ref_total = sum(ref.values())
        total = country_expected.get(country, 0.0)
        expected = {sub: n / ref_total * total for sub, n in ref.items()} if ref_total else {}
        return _region_rows(reports, expected, "subdivision")

    key = f"pages:heat:{service_id}:{window}:{country}:{_minute_key(now)}"
    return _cached(key, compute)


def world_heatmap(*, window: str, now: datetime) -> list[RegionRow]:
    """All services together, per country: reports in the window against the usual, which is
    every service's expectation for the window times the country's usual share of all
    reports at this time of day."""

    def compute() -> list[RegionRow]:
        until = floor_minute(now) + timedelta(minutes=1)
        since = until - WINDOWS[window]
        reports = _window_sums(
            hours=CountryHour._meta.db_table,
            minutes=CountryMinute._meta.db_table,
            key="country",
            where=[],
            params=[],
            since=since,
            until=until,
        )
        total = sum(_baseline_totals(since=since, until=until, country="").values())
        shares = _world_shares(now=now, span=WINDOWS[window])
        expected = {cc: share * total for cc, share in shares.items()}
        return _region_rows(reports, expected, "country")

    return _cached(f"pages:worldheat:{window}:{_minute_key(now)}", compute)


@dataclass(frozen=True, slots=True)
class RegionServiceRow:
    slug: str
    name: str
    reports: int
    expected: float
    ratio: float
    level: str

    @property
    def level_label(self) -> str:
        return str(Level(self.level).label)


def region_services(*, country: str, window: str, now: datetime) -> list[RegionServiceRow]:
    """Services people in one country report problems with, largest ratio first; the level
    is the country's open incident if there is one, else the service's own level."""

    def compute() -> list[RegionServiceRow]:
        until = floor_minute(now) + timedelta(minutes=1)
        since = until - WINDOWS[window]
        reports = dict(
            MinuteCount.objects.filter(country=country, minute__gte=since)
            .values("service_id")
            .annotate(n=Sum("count"))
            .values_list("service_id", "n")
        )
        baselines = _baseline_totals(since=since, until=until)
        shares = _country_shares(now=now, span=WINDOWS[window], country=country)
        expected = {
            sid: baselines.get((sid, country), share * baselines.get((sid, ""), 0.0))
            for (sid, _), share in shares.items()
        }
        incident_level = dict(
            Outage.objects.filter(ended_at=None, country=country).values_list("service_id", "level")
        )
        rows = []
        for s in service_statuses():
            if s.id not in reports and expected.get(s.id, 0.0) < 0.5:
                continue
            level = incident_level.get(s.id, s.level)
            n = reports.get(s.id, 0)
            rows.append(
                RegionServiceRow(
                    slug=s.slug,
                    name=s.name,
                    reports=n,
                    expected=round(expected.get(s.id, 0.0), 2),
                    ratio=ratio(n, expected.get(s.id, 0.0)),
                    level=level,
                )
            )
        return sorted(
            rows, key=lambda r: (-LEVEL_RANK[Level(r.level)], -r.ratio, -r.reports, r.name)
        )

    return _cached(f"pages:region:{country}:{window}:{_minute_key(now)}", compute)


# ------------------------------------------------------------------------------- incidents


@dataclass(frozen=True, slots=True)
class IncidentRow:
    id: int
    service_slug: str
    service_name: str
    country: str
    country_name: str
    level: str
    max_level: str
    started_at: datetime
    ended_at: datetime | None
    peak_at: datetime
    peak_reports: float
    peak_expected: float
    regions: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def duration(self) -> timedelta | None:
        return self.ended_at - self.started_at if self.ended_at else None

    @property
    def duration_text(self) -> str:
        if self.duration is None:
            return "ongoing"
        minutes = int(self.duration.total_seconds() // 60)
        hours, minutes = divmod(minutes, 60)
        return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"

    @property
    def scope(self) -> str:
        return self.country_name or "Worldwide"

    @property
    def level_label(self) -> str:
        return str(Level(self.level).label)


def _incident(outage: Outage) -> IncidentRow:
    regions = []
    for r in outage.regions[:5]:
        sub = r.get("subdivision") or ""
        regions.append(subdivision_name(sub) if sub else country_name(r.get("country", "")))
    problems = [
        f"{PROBLEM_LABELS.get(p['problem'], p['problem'])} ({round(100 * p['share'])}%)"
        for p in outage.problems[:3]
    ]
    return IncidentRow(
        id=outage.id,
        service_slug=outage.service.slug,
        service_name=outage.service.name,
        country=outage.country,
        country_name=country_name(outage.country) if outage.country else "",
        level=outage.level,
        max_level=outage.max_level,
        started_at=outage.started_at,
        ended_at=outage.ended_at,
        peak_at=outage.peak_at,
        peak_reports=outage.peak_reports,
        peak_expected=outage.peak_expected,
        regions=regions,
        problems=problems,
    )


def incidents_open(
    *, service_id: int | None = None, country: str | None = None
) -> list[IncidentRow]:
    """Open incidents, newest first (uses the one-open-per-scope partial index's rows only)."""
    qs = Outage.objects.filter(ended_at=None).select_related("service")
    if service_id is not None:
        qs = qs.filter(service_id=service_id)
    if country is not None:
        qs = qs.filter(country=country)
    return [_incident(o) for o in qs.order_by("-started_at")[:200]]


def incidents_past(*, service_id: int, limit: int = 10) -> list[IncidentRow]:
    qs = (
        Outage.objects.filter(service_id=service_id)
        .exclude(ended_at=None)
        .select_related("service")
        .order_by("-started_at")[:limit]
    )
    return [_incident(o) for o in qs]


# -------------------------------------------------------------------------------- headline


def headline(*, service: ServiceRow, incidents: list[IncidentRow]) -> str:
    """The status in one plain sentence."""
    if service.level == Level.OK:
        return f"No current problems at {service.name}"
    kind = "problems" if service.level == Level.OUTAGE else "possible problems"
    where = ""
    if incidents and all(i.country for i in incidents):
        names = sorted({i.country_name for i in incidents})
        where = " in " + (
            ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else names[0]
        )
    since = f" since {service.since:%H:%M} UTC" if service.since else ""
    return f"User reports indicate {kind} at {service.name}{where}{since}"


def service_row(*, slug: str) -> ServiceRow | None:
    rows = service_statuses(slug=slug)
    return rows[0] if rows else None


# ------------------------------------------------------------------------------ public API


def outage_list(
    *,
    service_id: int | None = None,
    country: str | None = None,
    status: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[Outage]:
    """Incidents newest first (by start, then id: a stable order for cursor pagination);
    `since`/`until` bound the start time, `country` the incident's scope."""
    qs = Outage.objects.select_related("service")
    if service_id is not None:
        qs = qs.filter(service_id=service_id)
    if country is not None:
        qs = qs.filter(country=country)
    if status == "open":
        qs = qs.filter(ended_at=None)
    elif status == "resolved":
        qs = qs.exclude(ended_at=None)
    if since is not None:
        qs = qs.filter(started_at__gte=since)
    if until is not None:
        qs = qs.filter(started_at__lt=until)
    return qs.order_by("-started_at", "-id")


# Bucket widths tried for an incident's series, smallest first, and how many buckets it may
# have: a 30-minute incident is drawn per minute, a three-day one per hour.
OUTAGE_SERIES_BUCKETS = ("1m", "5m", "15m", "1h", "1d")
OUTAGE_SERIES_MAX_BUCKETS = 240
# The series starts this long before the incident (and ends this long after it), so the
# rise and the return to normal are visible.
OUTAGE_SERIES_PADDING = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class OutageSeries:
    bucket: str
    since: datetime
    until: datetime
    buckets: list[TrendBucket]


def outage_series(*, outage: Outage, now: datetime) -> OutageSeries:
    """The incident's scope reported per bucket from an hour before it to an hour after it
    (or now, while it is open)."""
    until = min(
        (outage.ended_at or now) + OUTAGE_SERIES_PADDING, floor_minute(now) + timedelta(minutes=1)
    )
    since = outage.started_at - OUTAGE_SERIES_PADDING
    name = OUTAGE_SERIES_BUCKETS[-1]
    for name in OUTAGE_SERIES_BUCKETS:
        if (until - bucket_floor(since, BUCKETS[name])) / BUCKETS[
            name
        ] <= OUTAGE_SERIES_MAX_BUCKETS:
            break
    width = BUCKETS[name]
    buckets = service_series(
        service_id=outage.service_id,
        since=since,
        until=until,
        bucket=width,
        now=now,
        country=outage.country,
    )
    return OutageSeries(bucket=name, since=bucket_floor(since, width), until=until, buckets=buckets)


def outage_get(*, outage_id: int) -> Outage | None:
    return Outage.objects.select_related("service").filter(id=outage_id).first()


def outage_regions(*, outage: Outage) -> list[dict[str, object]]:
    """The incident's regions with their names, largest excess first."""
    rows = []
    for r in outage.regions:
        cc, sub = str(r.get("country", "")), str(r.get("subdivision") or "")
        rows.append(
            {
                "country": cc,
                "country_name": country_name(cc) if cc else "",
                "subdivision": sub,
                "subdivision_name": subdivision_name(sub) if sub else "",
                "reports": r.get("reports", 0),
                "expected": r.get("expected", 0.0),
                "excess": r.get("excess", 0.0),
            }
        )
    return rows


def outage_problems(*, outage: Outage) -> list[dict[str, object]]:
    return [
        {
            "problem": p["problem"],
            "name": PROBLEM_LABELS.get(p["problem"], p["problem"]),
            "reports": p.get("reports", 0),
            "share": p.get("share", 0.0),
        }
        for p in outage.problems
    ]


def subscription_list(*, owner_id: int) -> QuerySet[Subscription]:
    return Subscription.objects.filter(owner_id=owner_id).prefetch_related("services")


def subscription_get(*, owner_id: int, subscription_id: int) -> Subscription | None:
    return subscription_list(owner_id=owner_id).filter(id=subscription_id).first()


def subscriptions_for_outage(*, outage: Outage) -> list[Subscription]:
    """Active subscriptions that want this incident: its service (or all services), one of
    its countries (or all countries; a worldwide incident is in every country it affects),
    and a level the incident has reached."""
    qs = (
        Subscription.objects.filter(active=True)
        .filter(Q(services=None) | Q(services=outage.service_id))
        .distinct()
        .order_by("id")
    )
    reached = LEVEL_RANK[Level(outage.max_level)]
    places = (
        {outage.country}
        if outage.country
        else {str(r.get("country", "")) for r in outage.regions if r.get("country")}
    )
    return [
        s
        for s in qs
        if LEVEL_RANK[Level(s.min_level)] <= reached
        and (not s.countries or places & set(s.countries))
    ]


def delivery_list(*, subscription_id: int, limit: int = 50) -> list[WebhookDelivery]:
    """A subscription's latest deliveries with every attempt, newest first."""
    return list(
        WebhookDelivery.objects.filter(subscription_id=subscription_id)
        .prefetch_related("tries")
        .order_by("-created_at", "-id")[:limit]
    )

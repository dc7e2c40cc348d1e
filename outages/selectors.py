"""Reads for pages and the read API. Everything here comes from the rollups (MinuteCount,
HourCount), the stored baselines and the detection results (ServiceStatus, Outage): never
from the raw report table. The heavier reads are cached for a minute, keyed by the minute
they describe, so a busy page costs one computation per minute however many people load it.
"""

import math
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

from django.core.cache import cache
from django.db.models import Sum

from analytics.detection import MIN_EXCESS, OUTAGE_RATIO
from analytics.models import Baseline, HourCount, MinuteCount
from outages.models import LEVEL_RANK, PROBLEM_LABELS, Category, Level, Outage, Service
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


def floor_minute(t: datetime) -> datetime:
    return t.replace(second=0, microsecond=0)


def _cached(key: str, compute: Callable[[], T]) -> T:
    value: T | None = cache.get(key)
    if value is None:
        value = compute()
        cache.set(key, value, CACHE_TTL)
    return value


def _minute_key(now: datetime) -> str:
    return floor_minute(now).strftime("%Y%m%d%H%M")


def ratio(reports: float, expected: float) -> float:
    return round(reports / max(expected, EXPECTED_FLOOR), 2)


def _overlap_minutes(hour: datetime, since: datetime, until: datetime) -> float:
    lo, hi = max(hour, since), min(hour + timedelta(hours=1), until)
    return max((hi - lo).total_seconds() / 60, 0.0)


def _baseline_totals(
    *, since: datetime, until: datetime, service_id: int | None = None, country: str | None = None
) -> dict[tuple[int, str], float]:
    """Reports expected over [since, until) per stored baseline series (service, country)."""
    start = since.replace(minute=0, second=0, microsecond=0)
    qs = Baseline.objects.filter(hour__gte=start, hour__lt=until)
    if service_id is not None:
        qs = qs.filter(service_id=service_id)
    if country is not None:
        qs = qs.filter(country=country)
    totals: dict[tuple[int, str], float] = defaultdict(float)
    for sid, cc, hour, per_minute in qs.values_list("service_id", "country", "hour", "expected"):
        totals[(sid, cc)] += per_minute * _overlap_minutes(hour, since, until)
    return totals


def _country_shares(
    *, now: datetime, service_id: int | None = None, country: str | None = None
) -> dict[tuple[int, str], float]:
    """(service, country) -> the country's share of the service's reports in the same hours of
    the day (± SHARE_HOURS) over the last week: at 09:00 UTC Asia is awake and the Americas
    asleep, and an all-day share would call that an anomaly."""
    hours = [(now.hour + d) % 24 for d in range(-SHARE_HOURS, SHARE_HOURS + 1)]
    qs = HourCount.objects.filter(hour__gte=now - SHARE_SPAN, hour__lt=now, hour__hour__in=hours)
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
    return {
        (sid, cc): n / totals[sid]
        for sid, cc, n in rows
        if totals[sid] and (country is None or cc == country)
    }


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


def service_statuses(*, slug: str | None = None) -> list[ServiceRow]:
    """Every service (or the one with `slug`) with its current level from the last detection
    pass, by name: one query."""
    labels = dict(Category.choices)
    qs = Service.objects.order_by("name")
    if slug is not None:
        qs = qs.filter(slug=slug)
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
        rows = (
            HourCount.objects.filter(hour__gte=first, hour__lte=current)
            .values("service_id", "hour")
            .annotate(n=Sum("count"))
            .values_list("service_id", "hour", "n")
        )
        for sid, hour, n in rows:
            index = int((hour - first).total_seconds() // 3600)
            if 0 <= index < 24:
                out[sid][index] = n
        return dict(out)

    return _cached(f"pages:spark:{_minute_key(now)}", compute)


def report_total(*, service_id: int, since: datetime, until: datetime) -> int:
    """Reports of one service counted by the rollup in [since, until)."""
    got = MinuteCount.objects.filter(
        service_id=service_id, minute__gte=since, minute__lt=until
    ).aggregate(n=Sum("count"))["n"]
    return int(got or 0)


def report_counts(*, service_id: int, now: datetime) -> tuple[int, int]:
    """Reports in the last 15 minutes and the last 24 hours (whole minutes, current one
    included), from the minute rollup."""
    minute = floor_minute(now)
    until = minute + timedelta(minutes=1)
    return (
        report_total(service_id=service_id, since=minute - timedelta(minutes=14), until=until),
        report_total(service_id=service_id, since=minute - timedelta(hours=24), until=until),
    )


# ----------------------------------------------------------------------------------- trend


@dataclass(frozen=True, slots=True)
class TrendBucket:
    t: datetime
    reports: int
    expected: float | None
    low: float | None
    high: float | None
    threshold: float | None


def _usual_range(expected: float) -> tuple[float, float]:
    # Two standard deviations of a Poisson count around the expectation: the band the chart
    # shades. Real counts are somewhat more variable; the detector models that, the band is
    # a guide for the eye.
    spread = 2 * math.sqrt(expected)
    return max(expected - spread, 0.0), expected + spread


def _bucket_threshold(expected: float) -> float:
    # The detector calls nothing an outage below OUTAGE_RATIO times the expectation and
    # MIN_EXCESS extra reports; the line shows that floor for the bucket.
    return max(expected * OUTAGE_RATIO, expected + MIN_EXCESS)


def service_trend(*, service_id: int, range_name: str, now: datetime) -> list[TrendBucket]:
    """Reports per bucket with the expected count, its usual range and the outage threshold,
    oldest first; the last bucket is the one in progress."""

    def compute() -> list[TrendBucket]:
        span, width = TREND_RANGES[range_name]
        step = int(width.total_seconds() // 60)
        end = floor_minute(now)
        # Align buckets to the clock (…:00, :15, :30, :45) so they do not shift every minute.
        last = end - timedelta(minutes=(end.hour * 60 + end.minute) % step)
        first = last - span + width
        counts: dict[datetime, int] = defaultdict(int)
        rows: list[tuple[datetime, int]]
        if width >= timedelta(hours=1):
            rows = list(
                HourCount.objects.filter(service_id=service_id, hour__gte=first)
                .values("hour")
                .annotate(n=Sum("count"))
                .values_list("hour", "n")
            )
        else:
            rows = list(
                MinuteCount.objects.filter(service_id=service_id, minute__gte=first)
                .values("minute")
                .annotate(n=Sum("count"))
                .values_list("minute", "n")
            )
        for t, n in rows:
            index = int((t - first).total_seconds() // width.total_seconds())
            counts[first + index * width] += n
        per_minute = dict(
            Baseline.objects.filter(
                service_id=service_id,
                country="",
                hour__gte=first.replace(minute=0),
                hour__lte=last,
            ).values_list("hour", "expected")
        )
        buckets = []
        t = first
        while t <= last:
            expected: float | None = None
            bucket_end = min(t + width, end + timedelta(minutes=1))
            minute = t
            total = 0.0
            known = False
            while minute < bucket_end:
                hour = minute.replace(minute=0)
                until = min(hour + timedelta(hours=1), bucket_end)
                if hour in per_minute:
                    known = True
                    total += per_minute[hour] * (until - minute).total_seconds() / 60
                minute = until
            if known:
                expected = round(total, 2)
            low, high = _usual_range(expected) if expected is not None else (None, None)
            buckets.append(
                TrendBucket(
                    t=t,
                    reports=counts.get(t, 0),
                    expected=expected,
                    low=round(low, 2) if low is not None else None,
                    high=round(high, 2) if high is not None else None,
                    threshold=(
                        round(_bucket_threshold(expected), 2) if expected is not None else None
                    ),
                )
            )
            t += width
        return buckets

    return _cached(f"pages:trend:{service_id}:{range_name}:{_minute_key(now)}", compute)


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
        qs = MinuteCount.objects.filter(service_id=service_id, minute__gte=since)
        if country:
            qs = qs.filter(country=country)
        key = "subdivision" if country else "country"
        reports = {
            code: n
            for code, n in qs.values(key).annotate(n=Sum("count")).values_list(key, "n")
            if code
        }
        baselines = _baseline_totals(since=since, until=until, service_id=service_id)
        service_expected = baselines.get((service_id, ""), 0.0)
        shares = _country_shares(now=now, service_id=service_id)
        country_expected = {
            cc: baselines.get((service_id, cc), share * service_expected)
            for (_, cc), share in shares.items()
        }
        if not country:
            return _region_rows(reports, country_expected, "country")
        # Subdivisions: the country's expectation split by each one's share of the last day.
        ref = (
            MinuteCount.objects.filter(
                service_id=service_id,
                country=country,
                minute__gte=since - SUBDIVISION_SHARE_SPAN,
                minute__lt=since,
            )
            .exclude(subdivision="")
            .values("subdivision")
            .annotate(n=Sum("count"))
            .values_list("subdivision", "n")
        )
        ref_rows = list(ref)
        ref_total = sum(n for _, n in ref_rows)
        total = country_expected.get(country, 0.0)
        expected = {sub: n / ref_total * total for sub, n in ref_rows} if ref_total else {}
        return _region_rows(reports, expected, "subdivision")

    key = f"pages:heat:{service_id}:{window}:{country}:{_minute_key(now)}"
    return _cached(key, compute)


def world_heatmap(*, window: str, now: datetime) -> list[RegionRow]:
    """All services together, per country: reports in the window against the usual."""

    def compute() -> list[RegionRow]:
        until = floor_minute(now) + timedelta(minutes=1)
        since = until - WINDOWS[window]
        reports = dict(
            MinuteCount.objects.filter(minute__gte=since)
            .values("country")
            .annotate(n=Sum("count"))
            .values_list("country", "n")
        )
        baselines = _baseline_totals(since=since, until=until, country="")
        shares = _country_shares(now=now)
        expected: dict[str, float] = defaultdict(float)
        for (sid, cc), share in shares.items():
            expected[cc] += share * baselines.get((sid, ""), 0.0)
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
        shares = _country_shares(now=now, country=country)
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

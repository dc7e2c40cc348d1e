"""Where people report from: reports per country or subdivision of one service, of all
services together, and per service in one country, each against what it usually sends in the
window."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Sum

from analytics.models import (
    CountryHour,
    CountryMinute,
    HourCount,
    MinuteCount,
    RegionHour,
)
from analytics.selectors.shares import SUBDIVISION_SHARE_SPAN, country_shares, world_shares
from analytics.selectors.windows import WINDOWS, baseline_totals, ratio, window_sums
from common.cache import cached, minute_key
from common.regions import country_name, subdivision_name
from common.time import floor_hour, floor_minute
from outages.models import LEVEL_RANK, Incident, Level
from outages.selectors import service_statuses


@dataclass(frozen=True, slots=True)
class RegionRow:
    code: str
    reports: int
    expected: float
    ratio: float
    level: str  # "country" or "subdivision"

    @property
    def name(self) -> str:
        # At display time, in the page's language (the rows are cached for every language).
        return country_name(self.code) if self.level == "country" else subdivision_name(self.code)


def _region_rows(
    reports: dict[str, int], expected: dict[str, float], level: str
) -> list[RegionRow]:
    name = country_name if level == "country" else subdivision_name
    rows = [
        RegionRow(
            code=code,
            reports=reports.get(code, 0),
            expected=round(expected.get(code, 0.0), 2),
            ratio=ratio(reports.get(code, 0), expected.get(code, 0.0)),
            level=level,
        )
        for code in set(reports) | {c for c, e in expected.items() if e >= 0.5}
        if code
    ]
    # Ties in English name order, the same whichever language's request computed them.
    return sorted(rows, key=lambda r: (-r.ratio, -r.reports, name(r.code, language="en")))


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
            return window_sums(
                hours=hours,
                minutes=minutes,
                key=key,
                where=where,
                params=params,
                since=lo,
                until=hi,
            )

        reports = sums(since, until)
        baselines = baseline_totals(since=since, until=until, service_id=service_id)
        service_expected = baselines.get((service_id, ""), 0.0)
        shares = country_shares(now=now, span=WINDOWS[window], service_id=service_id)
        country_expected = {
            cc: baselines.get((service_id, cc), share * service_expected)
            for (_, cc), share in shares.items()
        }
        if not country:
            return _region_rows(reports, country_expected, "country")
        # Subdivisions: the country's expectation split by each one's share of the whole
        # hours of the day before.
        before = floor_hour(since)
        ref = sums(before - SUBDIVISION_SHARE_SPAN, before)
        ref_total = sum(ref.values())
        total = country_expected.get(country, 0.0)
        expected = {sub: n / ref_total * total for sub, n in ref.items()} if ref_total else {}
        return _region_rows(reports, expected, "subdivision")

    key = f"pages:heat2:{service_id}:{window}:{country}:{minute_key(now)}"
    return cached(key, compute)


def world_heatmap(*, window: str, now: datetime) -> list[RegionRow]:
    """All services together, per country: reports in the window against the usual, which is
    every service's expectation for the window times the country's usual share of all
    reports at this time of day."""

    def compute() -> list[RegionRow]:
        until = floor_minute(now) + timedelta(minutes=1)
        since = until - WINDOWS[window]
        reports = window_sums(
            hours=CountryHour._meta.db_table,
            minutes=CountryMinute._meta.db_table,
            key="country",
            where=[],
            params=[],
            since=since,
            until=until,
        )
        total = sum(baseline_totals(since=since, until=until, country="").values())
        shares = world_shares(now=now, span=WINDOWS[window])
        expected = {cc: share * total for cc, share in shares.items()}
        return _region_rows(reports, expected, "country")

    return cached(f"pages:worldheat2:{window}:{minute_key(now)}", compute)


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
        baselines = baseline_totals(since=since, until=until)
        shares = country_shares(now=now, span=WINDOWS[window], country=country)
        expected = {
            sid: baselines.get((sid, country), share * baselines.get((sid, ""), 0.0))
            for (sid, _), share in shares.items()
        }
        incident_level = dict(
            Incident.objects.filter(ended_at=None, country=country).values_list(
                "service_id", "level"
            )
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

    return cached(f"pages:region:{country}:{window}:{minute_key(now)}", compute)

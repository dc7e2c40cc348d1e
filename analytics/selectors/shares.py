"""Regions' usual shares of reports, by the time of day a window covers: what a country
without a baseline of its own is expected to send. A week of hour totals, cached per hour."""

import math
from collections import defaultdict
from datetime import datetime, timedelta

from django.db.models import Sum
from django.db.models.functions import ExtractHour

from analytics.models import CountryHour, HourCount
from common.cache import cached
from common.time import floor_hour

# A region's usual share of reports is measured over the last week of hourly totals.
SHARE_SPAN = timedelta(days=7)
SHARE_HOURS = 2
# Subdivisions have no hourly totals; their share within the country comes from the last day.
SUBDIVISION_SHARE_SPAN = timedelta(hours=24)


def share_hours(hour: datetime, span: timedelta) -> list[datetime]:
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


def country_shares(
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
    hour = floor_hour(now)

    def compute() -> dict[tuple[int, str], float]:
        qs = HourCount.objects.filter(hour__in=share_hours(hour, span))
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
    value = cached(key, compute, ttl=3600)
    if country is None:
        return value
    return {k: v for k, v in value.items() if k[1] == country}


def hourly_shares(*, service_id: int, country: str, until: datetime) -> dict[int, float]:
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


def world_shares(*, now: datetime, span: timedelta) -> dict[str, float]:
    """Country -> its share of all services' reports in the hours of the day that a window of
    `span` ending now covers (± SHARE_HOURS) over the last week; computed once an hour."""
    hour = floor_hour(now)

    def compute() -> dict[str, float]:
        rows = list(
            CountryHour.objects.filter(hour__in=share_hours(hour, span))
            .values("country")
            .annotate(n=Sum("count"))
            .values_list("country", "n")
        )
        total = sum(n for _, n in rows)
        return {cc: n / total for cc, n in rows if total}

    key = f"pages:worldshares:{span.total_seconds():.0f}:{hour:%Y%m%d%H}"
    return cached(key, compute, ttl=3600)

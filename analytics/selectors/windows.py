"""Reports counted and expected over a window: whole hours from a table of hour totals, the
ragged ends from its minute table, and the stored baselines summed by the database."""

from datetime import datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import Case, F, FloatField, Sum, Value, When

from analytics.models import Baseline, ServiceHour, ServiceMinute
from common.cache import cached, minute_key
from common.time import floor_hour, floor_minute

# Windows for maps, regions and problems.
WINDOWS: dict[str, timedelta] = {
    "15m": timedelta(minutes=15),
    "1h": timedelta(hours=1),
    "6h": timedelta(hours=6),
    "24h": timedelta(hours=24),
}

# Ratio = reports / max(expected, floor): a region that usually sends 0.01 reports an hour is
# not "300 times normal" because of three reports.
EXPECTED_FLOOR = 3.0


def ratio(reports: float, expected: float) -> float:
    return round(reports / max(expected, EXPECTED_FLOOR), 2)


def _overlap_minutes(hour: datetime, since: datetime, until: datetime) -> float:
    lo, hi = max(hour, since), min(hour + timedelta(hours=1), until)
    return max((hi - lo).total_seconds() / 60, 0.0)


def window_sums(
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
    first_hour = floor_hour(since)
    if first_hour < since:
        first_hour += timedelta(hours=1)
    last_hour = floor_hour(until)
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


def baseline_totals(
    *, since: datetime, until: datetime, service_id: int | None = None, country: str | None = None
) -> dict[tuple[int, str], float]:
    """Reports expected over [since, until) per stored baseline series (service, country),
    summed by the database: a day of a service's countries is hundreds of rows."""
    first = floor_hour(since)
    last = floor_hour(until - timedelta(microseconds=1))
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


def report_total(*, service_id: int, since: datetime, until: datetime) -> int:
    """Reports of one service counted by the rollup in [since, until): whole hours from the
    service's hour totals, the ragged ends from its minute totals."""
    got = window_sums(
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

    return cached(f"pages:counts:{service_id}:{minute_key(now)}", compute)


def report_total_last(*, service_id: int, now: datetime, span: timedelta) -> int:
    """Reports in the last `span` (whole minutes, the current one included)."""
    until = floor_minute(now) + timedelta(minutes=1)
    return report_total(service_id=service_id, since=until - span, until=until)

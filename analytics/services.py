from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Sum
from django.utils import timezone

from analytics.baseline import expected as baseline_expected
from analytics.breakdown import problem_shares, region_excess
from analytics.detection import STATES, detect_frames, detect_many
from analytics.models import Baseline, HourCount, MinuteCount, RollupState
from analytics.selectors import (
    busy_countries,
    hour_series,
    minute_series,
    parse_series_id,
    to_wide,
    window_breakdown,
)
from outages.models import LEVEL_RANK, Level, Outage, Service, ServiceStatus
from outages.services import (
    outage_observe,
    outage_resolve,
    outage_set_breakdown,
    service_status_write,
)
from reports.models import Report

ROLLUP = "minute"
# Detection sees the last 30 hours per minute (a day for the bucket-level dispersion plus the
# state machine's replay) and 7 weeks of hourly totals before that (5 for the weekly median,
# plus the level and dispersion look-backs).
DETECTION_MINUTES = timedelta(hours=30)
DETECTION_HISTORY = timedelta(weeks=7)
# Regions' usual shares come from the day before an incident.
REFERENCE_SPAN = timedelta(hours=24)
# The status line compares the last 15 minutes with what they should hold.
STATUS_WINDOW = timedelta(minutes=15)
STATE_LEVELS = {i: Level(name) for i, name in enumerate(STATES)}
# Stored baselines cover the longest chart range.
BASELINE_STORE_SPAN = timedelta(days=8)

_MINUTE_SQL = {
    "postgresql": "date_trunc('minute', created_at)",
    # Django stores SQLite datetimes as UTC text, 'YYYY-MM-DD HH:MM:SS[.ffffff]'.
    "sqlite": "strftime('%%Y-%%m-%%d %%H:%%M:00', created_at)",
}
_HOUR_SQL = {
    "postgresql": "date_trunc('hour', minute)",
    "sqlite": "strftime('%%Y-%%m-%%d %%H:00:00', minute)",
}


def floor_minute(t: datetime) -> datetime:
    return t.replace(second=0, microsecond=0)


def floor_hour(t: datetime) -> datetime:
    return t.replace(minute=0, second=0, microsecond=0)


@dataclass(frozen=True)
class RollupResult:
    start: datetime
    end: datetime
    rows: int


def _rollup_range(start: datetime, end: datetime) -> int:
    """Recompute and upsert every minute count in [start, end): rerunning gives the same rows."""
    minute = _MINUTE_SQL[connection.vendor]
    target = MinuteCount._meta.db_table
    source = Report._meta.db_table
    # ORDER BY the conflict key so two concurrent upserts lock rows in the same order.
    sql = f"""
        INSERT INTO {target} (service_id, minute, country, subdivision, problem, count)
        SELECT service_id, {minute} AS m, country, subdivision, problem, count(*)
        FROM {source}
        WHERE created_at >= %s AND created_at < %s
        GROUP BY service_id, m, country, subdivision, problem
        ORDER BY service_id, m, country, subdivision, problem
        ON CONFLICT (service_id, minute, country, subdivision, problem)
        DO UPDATE SET count = excluded.count
    """
    hours = HourCount._meta.db_table
    # Most hour totals in the range are unchanged (every service's current hour is re-summed
    # each minute): only differing ones are rewritten, the others are not churned into dead rows.
    hour_sql = f"""
        INSERT INTO {hours} (service_id, hour, country, count)
        SELECT service_id, {_HOUR_SQL[connection.vendor]} AS h, country, sum(count)
        FROM {target}
        WHERE minute >= %s AND minute < %s
        GROUP BY service_id, h, country
        ORDER BY service_id, h, country
        ON CONFLICT (service_id, hour, country) DO UPDATE SET count = excluded.count
        WHERE {hours}.count <> excluded.count
    """
    hours_end = floor_hour(end - timedelta(microseconds=1)) + timedelta(hours=1)
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        cursor.execute(sql, [adapt(start), adapt(end)])
        rows = max(cursor.rowcount, 0)
        # Whole hours are re-summed from the minute rows, so partial ranges stay exact.
        cursor.execute(hour_sql, [adapt(floor_hour(start)), adapt(hours_end)])
        return rows


def rollup_run(*, now: datetime | None = None) -> RollupResult:
    """Roll raw reports up into per-minute counts, from the watermark (less the lateness
    allowance) to now. Work is proportional to the reports in that range, not to history;
    after an outage of the worker, the watermark makes the next run catch up."""
    now = now or timezone.now()
    end = floor_minute(now) + timedelta(minutes=1)
    lateness = timedelta(seconds=settings.ROLLUP_LATENESS)
    chunk = timedelta(hours=6)
    rows = 0
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # Serialise concurrent runs: the result is the same either way, but waiting
            # avoids two workers doing the same scan at once.
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(hashtext('analytics.rollup'))")
        state = RollupState.objects.select_for_update().filter(name=ROLLUP).first()
        if state is not None:
            start = floor_minute(min(state.complete_until, now) - lateness)
        else:
            first = Report.objects.order_by("created_at").values_list("created_at", flat=True)
            earliest = first.first()
            start = floor_minute(earliest) if earliest else floor_minute(now) - lateness
        # Chunks bound the memory of each GROUP BY when catching up on a long range.
        lower = start
        while lower < end:
            upper = min(lower + chunk, end)
            rows += _rollup_range(lower, upper)
            lower = upper
        # The current minute is still filling; it stays inside the next run's range.
        RollupState.objects.update_or_create(
            name=ROLLUP, defaults={"complete_until": floor_minute(now)}
        )
    return RollupResult(start=start, end=end, rows=rows)


def report_retention_run(*, now: datetime | None = None, batch_size: int = 10_000) -> int:
    """Delete raw reports older than the retention period, in batches; rollups stay."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.RAW_REPORT_RETENTION_DAYS)
    state = RollupState.objects.filter(name=ROLLUP).first()
    # Never delete what has not been rolled up yet.
    if state is None:
        return 0
    cutoff = min(cutoff, state.complete_until - timedelta(seconds=settings.ROLLUP_LATENESS))
    table = Report._meta.db_table
    deleted = 0
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {table} WHERE id IN "
                f"(SELECT id FROM {table} WHERE created_at < %s LIMIT %s)",
                [connection.ops.adapt_datetimefield_value(cutoff), batch_size],
            )
            n = max(cursor.rowcount, 0)
        deleted += n
        if n < batch_size:
            return deleted


@dataclass(frozen=True)
class DetectionResult:
    at: datetime
    series: int
    opened: int
    resolved: int
    active: int


def _expected_reports(*, service_id: int, country: str, since: datetime, until: datetime) -> float:
    """Reports expected over [since, until) from the stored hourly baselines."""
    total = 0.0
    for hour, per_minute in Baseline.objects.filter(
        service_id=service_id, country=country, hour__gte=floor_hour(since), hour__lt=until
    ).values_list("hour", "expected"):
        lo, hi = max(hour, since), min(hour + timedelta(hours=1), until)
        total += per_minute * max((hi - lo).total_seconds() / 60, 0.0)
    return total


def outage_breakdown_update(*, outage: Outage, until: datetime) -> None:
    """Recompute an incident's affected regions and problems over its whole window."""
    window = window_breakdown(
        service_id=outage.service_id, since=outage.started_at, until=until, country=outage.country
    )
    reference = window_breakdown(
        service_id=outage.service_id,
        since=outage.started_at - REFERENCE_SPAN,
        until=outage.started_at,
        country=outage.country,
    )
    expected = _expected_reports(
        service_id=outage.service_id,
        country=outage.country,
        since=outage.started_at,
        until=until,
    )
    if expected <= 0 and not reference.empty:
        minutes = (until - outage.started_at).total_seconds() / 60
        expected = float(reference["count"].sum()) / (REFERENCE_SPAN.total_seconds() / 60) * minutes
    regions = region_excess(window, reference, expected)
    problems = problem_shares(window)
    outage_set_breakdown(
        outage_id=outage.id,
        regions=[
            {
                "country": r["country"],
                "subdivision": r["subdivision"],
                "reports": int(r["reports"]),
                "expected": round(float(r["expected"]), 1),
                "excess": round(float(r["excess"]), 1),
            }
            for r in regions.to_dict("records")
        ],
        problems=[
            {
                "problem": p["problem"],
                "reports": int(p["reports"]),
                "share": round(float(p["share"]), 3),
            }
            for p in problems.to_dict("records")
        ],
    )


# The 7-week hourly history (millions of rows at thousands of series) only changes when the
# detection window moves to the next hour, or when history is rewritten (a bulk load): each
# worker keeps the last one, checked against a cheap fingerprint of the rows.
_history_cache: dict[
    tuple[datetime, frozenset[tuple[int, str]], tuple[int, int]], pd.DataFrame
] = {}


def _history_wide(*, since: datetime, countries: set[tuple[int, str]]) -> pd.DataFrame | None:
    start = since - DETECTION_HISTORY
    stamp = HourCount.objects.filter(hour__gte=start, hour__lt=since).aggregate(
        rows=Count("id"), total=Sum("count")
    )
    key = (since, frozenset(countries), (stamp["rows"] or 0, stamp["total"] or 0))
    cached = _history_cache.get(key)
    if cached is not None:
        return cached
    history = hour_series(since=start, until=since, countries=countries)
    if history.empty:
        return None
    hours = pd.date_range(pd.Timestamp(start), pd.Timestamp(since), freq="1h", inclusive="left")
    wide = to_wide(history, hours)
    _history_cache.clear()
    _history_cache[key] = wide
    return wide


def detection_run(*, now: datetime | None = None) -> DetectionResult:
    """One detection pass over every service (and busy service-country pair) at once:
    open, update and resolve incidents, and rewrite every service's status."""
    now = now or timezone.now()
    at = floor_minute(now) - timedelta(minutes=1)  # the last complete minute
    since = floor_hour(at - DETECTION_MINUTES)
    countries = busy_countries(
        since=now - timedelta(days=7), min_reports=settings.COUNTRY_SERIES_MIN_REPORTS
    )
    counts = minute_series(since=since, until=at + timedelta(minutes=1), countries=countries)
    if counts.empty:
        results = pd.DataFrame(columns=["state", "since", "count", "expected", "threshold"])
    else:
        minutes = pd.date_range(pd.Timestamp(since), pd.Timestamp(at), freq="1min")
        wide = to_wide(counts, minutes)
        hist_wide = _history_wide(since=since, countries=countries)
        if hist_wide is not None:
            # A series seen in the history but silent for the last 30 hours is still a series.
            wide = wide.reindex(columns=wide.columns.union(hist_wide.columns))
            hist_wide = hist_wide.reindex(columns=wide.columns)
            seen = hist_wide.notna().any()
            wide.loc[:, seen] = wide.loc[:, seen].fillna(0.0)
        results = detect_many(wide, bucket=pd.Timedelta(minutes=1), history=hist_wide)
    recent = (
        counts[counts["bucket"] > pd.Timestamp(at - STATUS_WINDOW)] if not counts.empty else counts
    )
    recent_sum = recent.groupby("series_id")["count"].sum() if not recent.empty else pd.Series()

    open_outages = {(o.service_id, o.country): o for o in Outage.objects.filter(ended_at=None)}
    opened = resolved = active = 0
    statuses: dict[int, ServiceStatus] = {}
    for sid, row in results.iterrows():
        service_id, country = parse_series_id(str(sid))
        state = str(row["state"])
        expected = float(row["expected"]) if pd.notna(row["expected"]) else 0.0
        # An incident opens on outage-level evidence only; "possible problems" shows on the
        # status line, and keeps an already open incident going.
        if state == Level.OUTAGE or (
            state == Level.POSSIBLE and (service_id, country) in open_outages
        ):
            active += 1
            started = pd.Timestamp(row["since"]).to_pydatetime()
            outage, was_opened = outage_observe(
                service_id=service_id,
                country=country,
                level=state,
                at=at,
                started_at=started,
                reports=float(row["count"]),
                expected=expected,
            )
            opened += int(was_opened)
            open_outages.pop((service_id, country), None)
            outage_breakdown_update(outage=outage, until=at + timedelta(minutes=1))
        if country:
            continue
        statuses[service_id] = ServiceStatus(
            service_id=service_id,
            level=state if state in Level.values else Level.OK,
            since=pd.Timestamp(row["since"]).to_pydatetime() if state != Level.OK else None,
            current=float(recent_sum.get(str(sid), 0.0)),
            expected=expected * STATUS_WINDOW.total_seconds() / 60,
            threshold=float(row["threshold"]) if pd.notna(row["threshold"]) else 0.0,
            updated_at=now,
        )
    # Incidents whose series is quiet again (or has no reports left at all) are resolved.
    for outage in open_outages.values():
        resolved += int(outage_resolve(outage_id=outage.id, ended_at=at))
    # A country-only incident raises its service's level too: "problems in Brazil".
    for outage in Outage.objects.filter(ended_at=None).exclude(country=""):
        status = statuses.get(outage.service_id)
        if status is not None and LEVEL_RANK[Level(outage.level)] > LEVEL_RANK[Level(status.level)]:
            status.level = outage.level
            status.since = outage.started_at
    for service_id in Service.objects.exclude(id__in=list(statuses)).values_list("id", flat=True):
        statuses[service_id] = ServiceStatus(service_id=service_id, level=Level.OK, updated_at=now)
    service_status_write(rows=list(statuses.values()))
    return DetectionResult(
        at=at, series=len(results), opened=opened, resolved=resolved, active=active
    )


def baseline_run(*, now: datetime | None = None) -> int:
    """Store each series' expected reports per minute for the last BASELINE_STORE_SPAN and the
    current hour (fixed at each hour's start from earlier data only)."""
    now = now or timezone.now()
    current = floor_hour(now)
    countries = busy_countries(
        since=now - timedelta(days=7), min_reports=settings.COUNTRY_SERIES_MIN_REPORTS
    )
    since = current - DETECTION_HISTORY - BASELINE_STORE_SPAN
    rows = hour_series(since=since, until=current + timedelta(hours=1), countries=countries)
    if rows.empty:
        return 0
    index = pd.date_range(pd.Timestamp(since), pd.Timestamp(current), freq="1h")
    wide = to_wide(rows, index)
    expected = baseline_expected(wide, bucket=pd.Timedelta(hours=1))
    keep = expected.loc[pd.Timestamp(current - BASELINE_STORE_SPAN) :]
    objs = []
    for sid in keep.columns:
        service_id, country = parse_series_id(str(sid))
        for hour, value in keep[sid].items():
            if pd.isna(value):
                continue
            objs.append(
                Baseline(
                    service_id=service_id,
                    country=country,
                    hour=pd.Timestamp(str(hour)).to_pydatetime(),
                    expected=float(value) / 60.0,
                    computed_at=now,
                )
            )
    Baseline.objects.bulk_create(
        objs,
        batch_size=2000,
        update_conflicts=True,
        unique_fields=["service", "country", "hour"],
        update_fields=["expected", "computed_at"],
    )
    Baseline.objects.filter(hour__lt=current - BASELINE_STORE_SPAN).delete()
    return len(objs)


def incidents_backfill(*, since: datetime, until: datetime) -> int:
    """Replay detection over stored minute counts and record the incidents it would have
    opened and closed (a new site, or history imported in bulk). Runs still open at `until`
    are left to the live task. Safe to rerun: an incident with the same start is kept."""
    countries = busy_countries(
        since=until - timedelta(days=7), min_reports=settings.COUNTRY_SERIES_MIN_REPORTS
    )
    start = floor_hour(since)
    end = floor_minute(until)
    counts = minute_series(since=start, until=end, countries=countries)
    if counts.empty:
        return 0
    history = hour_series(since=start - DETECTION_HISTORY, until=start, countries=countries)
    step = pd.Timedelta(minutes=1)
    index = pd.date_range(pd.Timestamp(start), pd.Timestamp(end) - step, freq=step)
    wide = to_wide(counts, index)
    hist_wide = None
    if not history.empty:
        hist_index = pd.date_range(
            pd.Timestamp(start - DETECTION_HISTORY),
            pd.Timestamp(start),
            freq="1h",
            inclusive="left",
        )
        hist_wide = to_wide(history, hist_index).reindex(columns=wide.columns)
        # Series already seen in the history: silence at the window's start is real.
        seen = hist_wide.notna().any()
        wide.loc[:, seen] = wide.loc[:, seen].fillna(0.0)
    frames = detect_frames(wide, bucket=step, history=hist_wide)
    state = frames.state.to_numpy()
    counts_m = frames.counts.to_numpy()
    expected_m = np.nan_to_num(frames.expected.to_numpy())
    created = 0
    for j, sid in enumerate(wide.columns):
        service_id, country = parse_series_id(str(sid))
        active = state[:, j] > 0
        if not active.any():
            continue
        edges = np.diff(np.concatenate([[0], active.astype(np.int8), [0]]))
        for first_np, stop_np in zip(
            np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True
        ):
            first, stop = int(first_np), int(stop_np)
            if stop >= len(index):
                continue  # still open: the live task owns it
            peak = int(np.argmax(counts_m[first:stop, j])) + first
            level = STATE_LEVELS[int(state[first:stop, j].max())]
            if level != Level.OUTAGE:
                continue  # "possible problems" alone is a status, not an incident
            outage, was_created = Outage.objects.get_or_create(
                service_id=service_id,
                country=country,
                started_at=pd.Timestamp(index[first]).to_pydatetime(),
                defaults={
                    "level": Level.OK,
                    "max_level": level,
                    "peak_at": pd.Timestamp(index[peak]).to_pydatetime(),
                    "peak_reports": float(counts_m[peak, j]),
                    "peak_expected": float(expected_m[peak, j]),
                    "ended_at": pd.Timestamp(index[stop]).to_pydatetime(),
                },
            )
            if was_created:
                created += 1
                outage_breakdown_update(
                    outage=outage, until=pd.Timestamp(index[stop]).to_pydatetime()
                )
    return created


def rollup_rewind(*, since: datetime) -> None:
    """Make the next rollup recompute everything from `since` (reports were loaded in bulk
    with past timestamps)."""
    RollupState.objects.filter(name=ROLLUP, complete_until__gt=since).update(complete_until=since)


@transaction.atomic
def analytics_reset() -> None:
    """Forget everything derived from the raw reports; the next rollup rebuilds it."""
    for model in (MinuteCount, HourCount, Baseline, RollupState, Outage, ServiceStatus):
        model.objects.all().delete()

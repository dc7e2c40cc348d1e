"""The rollup: raw reports into per-minute counts (and the totals summed from them), from a
watermark so that work follows new reports, not history; retention of raw reports; and the
resets that make the next run recompute."""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, connection, models, transaction
from django.db.models.functions import TruncMinute
from django.utils import timezone

from analytics.models import (
    Baseline,
    CountryHour,
    CountryMinute,
    HourCount,
    MinuteCount,
    RegionHour,
    RollupRewrite,
    RollupState,
    ServiceHour,
    ServiceMinute,
)
from common.time import floor_hour, floor_minute
from outages.services import detection_forget
from reports.models import Report

ROLLUP = "minute"
# Memory for the rollup's GROUP BY and sort (PostgreSQL): a range of a million reports
# fits, and stays off disk.
ROLLUP_WORK_MEM = "64MB"
# Late minutes closer than this are re-summed as one range: a few extra minutes re-summed cost
# less than another pass over the totals.
LATE_SPAN_GAP = timedelta(hours=1)
# Records of re-summed minutes outlive every grid that could keep those minutes (30 hours).
REWRITE_KEEP = timedelta(days=2)

_MINUTE_SQL = {
    "postgresql": "date_trunc('minute', created_at)",
    # Django stores SQLite datetimes as UTC text, 'YYYY-MM-DD HH:MM:SS[.ffffff]'.
    "sqlite": "strftime('%%Y-%%m-%%d %%H:%%M:00', created_at)",
}
_HOUR_SQL = {
    "postgresql": "date_trunc('hour', minute)",
    "sqlite": "strftime('%%Y-%%m-%%d %%H:00:00', minute)",
}


@dataclass(frozen=True)
class RollupResult:
    start: datetime
    end: datetime
    rows: int  # minute rows inserted or changed


def _resum_sql(*, target: str, keys: str, select: str, source: str, when: str) -> str:
    """INSERT … SELECT … ON CONFLICT of a table of totals summed from a finer one, over a
    range of its `when` column. Most totals in a range are unchanged (every service's current
    hour is re-summed each minute): only differing ones are rewritten, the others are not
    churned into dead rows. Rows in key order keep concurrent runs locking in one order."""
    return f"""
        INSERT INTO {target} ({keys}, count)
        SELECT {select}, sum(count)
        FROM {source}
        WHERE {when} >= %s AND {when} < %s
        GROUP BY {keys}
        ORDER BY {keys}
        ON CONFLICT ({keys}) DO UPDATE SET count = excluded.count
        WHERE {target}.count <> excluded.count
    """


def _totals_sql() -> list[tuple[str, str]]:
    """Each table of totals as (SQL, "minutes" or "hours": the range it is re-summed over),
    in order: every table is summed from one before it or from the minute counts."""
    hour = f"{_HOUR_SQL[connection.vendor]} AS hour"
    # (totals, their key, the key's columns in the source, source, its time column, range)
    tables: list[tuple[type[models.Model], str, str, type[models.Model], str, str]] = [
        (
            RegionHour,
            "service_id, hour, country, subdivision",
            f"service_id, {hour}, country, subdivision",
            MinuteCount,
            "minute",
            "hours",
        ),
        (HourCount, "service_id, hour, country", "", RegionHour, "hour", "hours"),
        (ServiceMinute, "service_id, minute", "", MinuteCount, "minute", "minutes"),
        (ServiceHour, "service_id, hour", "", HourCount, "hour", "hours"),
        (CountryMinute, "minute, country", "", MinuteCount, "minute", "minutes"),
        (CountryHour, "hour, country", "", HourCount, "hour", "hours"),
    ]
    return [
        (
            _resum_sql(
                target=target._meta.db_table,
                keys=keys,
                select=select or keys,
                source=source._meta.db_table,
                when=when,
            ),
            span,
        )
        for target, keys, select, source, when, span in tables
    ]


def totals_resum(*, since: datetime, until: datetime) -> None:
    """Rewrite every total summed from the minute counts of [since, until): the minute totals
    of the range and the hour totals of every hour it touches (the rollup does this for each
    range it writes; so must anything else writing minute counts)."""
    adapt = connection.ops.adapt_datetimefield_value
    hours_end = floor_hour(until - timedelta(microseconds=1)) + timedelta(hours=1)
    ranges = {
        "minutes": [adapt(since), adapt(until)],
        "hours": [adapt(floor_hour(since)), adapt(hours_end)],
    }
    with connection.cursor() as cursor:
        for sql, span in _totals_sql():
            cursor.execute(sql, ranges[span])


def _minute_sql(*, upsert: bool) -> str:
    minute = _MINUTE_SQL[connection.vendor]
    target = MinuteCount._meta.db_table
    select = f"""
        INSERT INTO {target} (service_id, minute, country, subdivision, problem, count)
        SELECT service_id, {minute} AS m, country, subdivision, problem, count(*)
        FROM {Report._meta.db_table}
        WHERE created_at >= %s AND created_at < %s AND counted
        GROUP BY service_id, m, country, subdivision, problem
    """
    if not upsert:
        # Rows in key order per (service, minute) keep the inserts into the key's index local;
        # sorting on the text columns too (in the database's collation) costs more than it saves.
        return select + "ORDER BY service_id, m"
    # ORDER BY the conflict key so two concurrent upserts lock rows in the same order. A rerun
    # leaves unchanged counts alone instead of churning them into dead rows.
    return f"""{select}
        ORDER BY service_id, m, country, subdivision, problem
        ON CONFLICT (service_id, minute, country, subdivision, problem)
        DO UPDATE SET count = excluded.count WHERE {target}.count <> excluded.count
    """


def _rollup_range(start: datetime, end: datetime, *, fresh_from: datetime) -> int:
    """Recompute every minute count in [start, end): rerunning gives the same rows.

    Minutes from `fresh_from` on have not been written by an earlier run: their rows are
    inserted without the conflict check, about a quarter of an upsert's cost. Should rows be
    there after all (history was rewound), the insert fails on the unique key and those
    minutes are upserted like the others.
    """
    adapt = connection.ops.adapt_datetimefield_value
    fresh_from = min(max(fresh_from, start), end)
    rows = 0
    with connection.cursor() as cursor:
        if start < fresh_from:
            cursor.execute(_minute_sql(upsert=True), [adapt(start), adapt(fresh_from)])
            rows += max(cursor.rowcount, 0)
        if fresh_from < end:
            params = [adapt(fresh_from), adapt(end)]
            try:
                with transaction.atomic():
                    cursor.execute(_minute_sql(upsert=False), params)
            except IntegrityError:
                cursor.execute(_minute_sql(upsert=True), params)
            rows += max(cursor.rowcount, 0)
    # Whole hours are re-summed from the minute rows, so partial ranges stay exact.
    totals_resum(since=start, until=end)
    return rows


def _late_minutes(*, received_since: datetime, before: datetime) -> list[datetime]:
    """Minutes before `before` of the reports observed earlier (batch items with observed_at)
    that arrived from `received_since` on: a partial index holds only those reports."""
    minutes = (
        Report.objects.filter(
            received_at__isnull=False, received_at__gte=received_since, created_at__lt=before
        )
        .annotate(m=TruncMinute("created_at"))
        .values_list("m", flat=True)
        .distinct()
    )
    return sorted(minutes)


def _spans(minutes: list[datetime], *, longest: timedelta) -> list[tuple[datetime, datetime]]:
    """Sorted minutes as [since, until) ranges, merged across gaps up to LATE_SPAN_GAP and
    cut at `longest`."""
    spans: list[tuple[datetime, datetime]] = []
    for minute in minutes:
        until = minute + timedelta(minutes=1)
        if spans and minute - spans[-1][1] <= LATE_SPAN_GAP and until - spans[-1][0] <= longest:
            spans[-1] = (spans[-1][0], until)
        else:
            spans.append((minute, until))
    return spans


def rollup_run(*, now: datetime | None = None) -> RollupResult:
    """Roll raw reports up into per-minute counts, from the watermark (less the lateness
    allowance) to now. Work is proportional to the reports in that range, not to history;
    after an outage of the worker, the watermark makes the next run catch up.

    Reports observed before that range that arrived within it (a partner's backlog with its
    own observed_at) land in their own minutes: those minutes are re-summed whole from the
    raw table, so each report is in its count exactly once however often a run sees it, and
    the run records the range (RollupRewrite) for readers that keep older counts."""
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
                # The default work_mem spills a large range's GROUP BY and sort to disk.
                cursor.execute(f"SET LOCAL work_mem = '{ROLLUP_WORK_MEM}'")
        state = RollupState.objects.select_for_update().filter(name=ROLLUP).first()
        if state is not None:
            start = floor_minute(min(state.complete_until, now) - lateness)
            # The previous run wrote up to the end of the minute it stopped in.
            fresh_from = state.complete_until + timedelta(minutes=1)
        else:
            first = Report.objects.order_by("created_at").values_list("created_at", flat=True)
            earliest = first.first()
            start = floor_minute(earliest) if earliest else floor_minute(now) - lateness
            fresh_from = start
        # Chunks bound the memory of each GROUP BY when catching up on a long range.
        lower = start
        while lower < end:
            upper = min(lower + chunk, end)
            rows += _rollup_range(lower, upper, fresh_from=fresh_from)
            lower = upper
        # Arrived within the range (received_at has the same lateness as created_at: a batch
        # is stamped before its transaction commits), observed before it.
        late = _late_minutes(received_since=start, before=start)
        for since, until in _spans(late, longest=chunk):
            # Every minute here was written before: upserted, only changed counts rewritten.
            rows += _rollup_range(since, until, fresh_from=until)
        if late:
            RollupRewrite.objects.create(
                since=late[0], until=late[-1] + timedelta(minutes=1), created_at=now
            )
            RollupRewrite.objects.filter(created_at__lt=now - REWRITE_KEEP).delete()
        # The current minute is still filling; it stays inside the next run's range.
        defaults: dict[str, object] = {"complete_until": floor_minute(now)}
        if state is not None and now < state.complete_until:
            # A run for an earlier time rewrites minutes that readers took as final.
            defaults["history_id"] = uuid.uuid4()
        RollupState.objects.update_or_create(name=ROLLUP, defaults=defaults)
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


def rollup_rewind(*, since: datetime) -> None:
    """Make the next rollup recompute everything from `since` (reports were loaded in bulk
    with past timestamps)."""
    RollupState.objects.filter(name=ROLLUP, complete_until__gt=since).update(
        complete_until=since, history_id=uuid.uuid4()
    )


@transaction.atomic
def analytics_reset() -> None:
    """Forget everything derived from the raw reports; the next rollup rebuilds it."""
    for model in (
        MinuteCount,
        ServiceMinute,
        RegionHour,
        HourCount,
        ServiceHour,
        CountryMinute,
        CountryHour,
        Baseline,
        RollupState,
        RollupRewrite,
    ):
        model.objects.all().delete()
    detection_forget()

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from analytics.models import MinuteCount, RollupState
from reports.models import Report

ROLLUP = "minute"

_MINUTE_SQL = {
    "postgresql": "date_trunc('minute', created_at)",
    # Django stores SQLite datetimes as UTC text, 'YYYY-MM-DD HH:MM:SS[.ffffff]'.
    "sqlite": "strftime('%%Y-%%m-%%d %%H:%%M:00', created_at)",
}


def floor_minute(t: datetime) -> datetime:
    return t.replace(second=0, microsecond=0)


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
    with connection.cursor() as cursor:
        adapt = connection.ops.adapt_datetimefield_value
        cursor.execute(sql, [adapt(start), adapt(end)])
        return max(cursor.rowcount, 0)


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

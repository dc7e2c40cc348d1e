"""Analytics benchmark: `python bench/analytics.py` prints one JSON line (progress on stderr).

Runs against its own database, `outages_bench_analytics` on the PostgreSQL of DATABASE_URL
(default postgres://$USER@127.0.0.1:5432/...), dropped and recreated at the start, migrated
with Django, and dropped again at the end. Fixed seed; every figure is measured in the same run.

Data (COPY, with the secondary indexes built after each load; timestamps relative to now)
    * 500 synthetic services with 7 days of per-minute counts in analytics_minutecount: per
      service 0.4-2.5 reports a minute (log-uniform) with a daily rhythm, spread over 9 busy
      countries (each well above COUNTRY_SERIES_MIN_REPORTS a week) and 3 quiet ones (below
      it), subdivisions in some countries, the service's problems with skewed shares; a few
      services and (service, country) pairs are in an outage over the last minutes. Their
      analytics_hourcount rows are the sums of those minutes, plus 7 weeks of hourly totals
      before them drawn from the same rates; stored baselines for the last 32 hours. That is
      500 worldwide + 4,500 country series: 5,000 active series.
    * 1,000,000 raw reports over the last 3 hours for the 58 catalogue services (skewed
      popularity, 30 countries, subdivisions in ten of them, two outages among them).

1. rollup: the real `rollup_run()` over exactly the 1M new reports (the watermark is set so its
   range starts at the first of them), beside the bare aggregation it is built on,
   `SELECT count(*) FROM (SELECT ... count(*) FROM reports_report WHERE created_at in range
   GROUP BY service, minute, country, subdivision, problem) t` over the same rows (nothing
   fetched; one full fetch of its rows is timed too). Both are warmed up, then run REPEATS
   times; medians. Before every measured rollup run its output rows are deleted and the tables
   vacuumed, so each is a first run (inserts), and a CHECKPOINT is taken so that none lands
   inside a run by chance. Also timed: a rerun over rows already there (all updates) and the
   per-minute run a minute after the previous one. Time per statement inside rollup_run comes
   from Django's execute wrapper, the commit from wrapping the connection's commit.
2. coarse views: hourly totals of one service (the busiest synthetic one) over 7 days and of
   all services over 24 hours, by GROUP BY over analytics_minutecount versus reading
   analytics_hourcount, through Django's connection; medians of VIEW_REPEATS in ms, with a
   check that both give the same totals.
3. detection: the real `detection_run()` end to end (queries, detection, incident and status
   writes) over the 5,000 series, REPEATS times, or twice when a pass takes over SLOW_PASS_S
   (the first opens incidents, the next ones update them). The loaded counts are rolled up to
   now (a RollupState watermark, as on a running site), so the first pass is a worker's first:
   it reads all 30 hours of minutes and 7 weeks of hours; the next ones read only what the
   rollup may have rewritten (the lateness allowance), as every pass of a running worker does.
   The time inside each of its steps (selectors, grids, detect_many, incident writes, status
   write) is measured by wrapping those functions for the run. Reference: the rows a full read
   covers, fetched one per row by plain SQL on a plain psycopg connection (no ORM or pandas).

The load average at the start and end is reported: other work on the host skews every figure.
"""

from __future__ import annotations

import functools
import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# The bench package, once its parent is on the path.
from bench.harness import (  # noqa: E402
    COMMENTS,
    COUNTRIES,
    SUBDIVISION_COUNTRIES,
    django_on_new_database,
    finish_database,
    subdivision_codes,
)
from common.time import floor_hour, floor_minute  # noqa: E402

BENCH_DB = "outages_bench_analytics"
SEED = 20251127
REPEATS = 3
VIEW_REPEATS = 7

# Rollup data: the catalogue services, 1M reports over the last 3 hours.
RAW_REPORTS = 1_000_000
RAW_SPAN = timedelta(hours=3)
SUBDIVISIONS_PER_COUNTRY = 40

# Series data: synthetic services with 7 days per minute and 7 weeks per hour before that.
SERIES_SERVICES = 500
BUSY_COUNTRIES = 9
QUIET_COUNTRIES = 3
QUIET_RATE = 0.008  # reports a minute: about 80 a week, below COUNTRY_SERIES_MIN_REPORTS
RATE_MIN, RATE_MAX = 0.4, 2.5  # reports a minute per service, daily mean
MINUTE_SPAN = timedelta(days=7)
HOUR_SPAN = timedelta(weeks=7, hours=32)
BASELINE_SPAN = timedelta(hours=32)
GLOBAL_OUTAGES, GLOBAL_FACTOR, GLOBAL_MINUTES = 3, 6.0, 25
COUNTRY_OUTAGES, COUNTRY_FACTOR, COUNTRY_MINUTES = 8, 20.0, 15
SUBDIVISIONS_SYNTHETIC = 10
# UTC offsets in hours, for each country's daily rhythm (1 for those not listed).
PHASE = {"US": -6, "CA": -6, "MX": -6, "BR": -3, "AR": -3, "CO": -5, "CL": -4, "JP": 9,
         "KR": 9, "AU": 10, "NZ": 12, "IN": 5, "ID": 7, "PH": 8}  # fmt: skip

TARGETS = {"rollup_vs_bare_sql_max": 2.0, "detection_run_s_max": 5.0}

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
T = TypeVar("T")

_STARTED = time.monotonic()


def log(message: str) -> None:
    print(f"[analytics {time.monotonic() - _STARTED:6.1f}s] {message}", file=sys.stderr, flush=True)


def median(values: list[float]) -> float:
    return float(statistics.median(values))


def pg_time(t: datetime) -> str:
    return t.strftime("%Y-%m-%d %H:%M:%S+00")


def grid_strings(start: datetime, step: timedelta, n: int) -> list[str]:
    return [pg_time(start + i * step) for i in range(n)]


# --- setup ------------------------------------------------------------------------------------


def configure() -> str:
    """Recreate the bench database, point Django at it and migrate; returns its URL."""
    return django_on_new_database(BENCH_DB, settings_module="config.settings", log=log)


def copy_text(url: str, table: str, columns: tuple[str, ...], lines: list[str]) -> float:
    """Bulk load: COPY tab-separated lines into a table, with its secondary indexes and unique
    constraints dropped during the load and built again after it (same definitions, read
    from the catalog); returns seconds."""
    started = time.perf_counter()
    with psycopg.connect(url) as conn:
        try:
            # Rows valid by construction: skip the per-row foreign-key triggers where the role
            # may (a superuser); otherwise they run.
            with conn.transaction():
                conn.execute("SET session_replication_role = replica")
        except psycopg.Error:
            pass
        constraints = conn.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = %s::regclass AND contype = 'u'",
            [table],
        ).fetchall()
        named = {name for name, _ in constraints}
        indexes = [
            (name, sql)
            for name, sql in conn.execute(
                "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x "
                "JOIN pg_class i ON i.oid = x.indexrelid "
                "WHERE x.indrelid = %s::regclass AND NOT x.indisprimary",
                [table],
            ).fetchall()
            if name not in named
        ]
        for name, _ in constraints:
            conn.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        for name, _ in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        with conn.cursor() as cur:
            sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
            with cur.copy(sql) as copy:
                step = 200_000
                for i in range(0, len(lines), step):
                    copy.write("".join(lines[i : i + step]))
        for name, definition in constraints:
            conn.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
        for _, definition in indexes:
            conn.execute(definition)
        conn.commit()
    return time.perf_counter() - started


def vacuum(url: str, *tables: str, analyze: bool = True) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        for table in tables:
            conn.execute(f"VACUUM {'(ANALYZE) ' if analyze else ''}{table}")


def create_services() -> tuple[list[int], list[int], list[tuple[str, ...]]]:
    """The catalogue services and the synthetic ones; returns (catalogue ids, synthetic ids,
    synthetic problem lists)."""
    from outages.catalogue import CATALOGUE
    from outages.models import Service

    rows = [
        Service(
            slug=e.slug,
            name=e.name,
            category=e.category,
            home_url=e.home_url,
            problems=list(e.problems),
        )
        for e in CATALOGUE
    ]
    problems = [CATALOGUE[i % len(CATALOGUE)].problems for i in range(SERIES_SERVICES)]
    rows += [
        Service(
            slug=f"service-{i:03d}",
            name=f"Service {i:03d}",
            category=CATALOGUE[i % len(CATALOGUE)].category,
            home_url=f"https://service-{i:03d}.example",
            problems=list(problems[i]),
        )
        for i in range(SERIES_SERVICES)
    ]
    Service.objects.bulk_create(rows, batch_size=1000)
    ids = dict(Service.objects.values_list("slug", "id"))
    catalogue = [ids[e.slug] for e in CATALOGUE]
    synthetic = [ids[f"service-{i:03d}"] for i in range(SERIES_SERVICES)]
    return catalogue, synthetic, problems


def rhythm(hours: FloatArray) -> FloatArray:
    """Daily rhythm around 1 (peak mid-afternoon local time, about 3x peak to trough)."""
    out: FloatArray = 1.0 + 0.5 * np.cos(2 * np.pi * (hours - 15.0) / 24.0)
    return out


def truncated_geometric(
    rng: np.random.Generator, n: int, ratio: float, sizes: IntArray
) -> IntArray:
    """Indices below `sizes` (per draw), mostly small: geometric (P(k) ~ ratio**k), folded."""
    k = np.floor(np.log(rng.random(n)) / np.log(ratio)).astype(np.int64)
    out: IntArray = k % sizes
    return out


class SeriesData:
    """The 500 synthetic services: lanes are (service, country) pairs with their rates."""

    def __init__(
        self, rng: np.random.Generator, service_ids: list[int], problems: list[tuple[str, ...]]
    ):
        self.service_ids = np.asarray(service_ids, dtype=np.int64)
        self.problems = problems
        subs = subdivision_codes()
        pool = np.asarray(COUNTRIES)
        pool_w = 1.0 / np.arange(1, len(pool) + 1) ** 0.8
        lanes = BUSY_COUNTRIES + QUIET_COUNTRIES
        self.lanes = lanes
        rate = np.exp(rng.uniform(np.log(RATE_MIN), np.log(RATE_MAX), SERIES_SERVICES))
        self.rate_total = rate
        share = 1.0 / np.arange(1, BUSY_COUNTRIES + 1) ** 0.3
        share = 0.95 * share / share.sum()
        countries: list[str] = []
        lane_rate = np.empty(SERIES_SERVICES * lanes)
        for s in range(SERIES_SERVICES):
            picked = rng.choice(len(pool), size=lanes, replace=False, p=pool_w / pool_w.sum())
            countries += [str(pool[i]) for i in picked]
            lane_rate[s * lanes : (s + 1) * lanes] = np.concatenate(
                [rate[s] * share, np.full(QUIET_COUNTRIES, QUIET_RATE)]
            )
        self.countries = countries
        self.lane_rate = lane_rate
        self.lane_phase = np.asarray([PHASE.get(c, 1) for c in countries], dtype=np.float64)
        self.lane_subs = [subs.get(c, [])[:SUBDIVISIONS_SYNTHETIC] for c in countries]
        # Outages in progress: whole services, and single countries of others.
        picked = rng.choice(SERIES_SERVICES, size=GLOBAL_OUTAGES + COUNTRY_OUTAGES, replace=False)
        self.global_outages = picked[:GLOBAL_OUTAGES]
        self.country_outages = picked[GLOBAL_OUTAGES:] * lanes + rng.integers(
            0, BUSY_COUNTRIES, COUNTRY_OUTAGES
        )

    def minute_rows(
        self, rng: np.random.Generator, start: datetime, minutes: int
    ) -> tuple[list[str], list[str]]:
        """Per-minute rows (in key order) and the hourcount lines summing them."""
        lanes = self.lanes
        hours = -(-minutes // 60)
        t_hours = (start.hour + start.minute / 60.0) + np.arange(minutes) / 60.0
        minute_str = grid_strings(start, timedelta(minutes=1), minutes)
        hour_str = grid_strings(start, timedelta(hours=1), hours)
        n_subs = np.asarray([len(x) for x in self.lane_subs], dtype=np.int64)
        lines: list[str] = []
        hour_lines: list[str] = []
        per_hour = np.zeros((SERIES_SERVICES * lanes, hours), dtype=np.int64)
        group = 50
        for first in range(0, SERIES_SERVICES, group):
            sl = slice(first * lanes, (first + group) * lanes)
            mean = self.lane_rate[sl, None] * rhythm(t_hours[None, :] + self.lane_phase[sl, None])
            for s in self.global_outages:
                if first <= s < first + group:
                    row = (s - first) * lanes
                    mean[row : row + lanes, -GLOBAL_MINUTES:] *= GLOBAL_FACTOR
            for lane in self.country_outages:
                if sl.start <= lane < sl.stop:
                    mean[lane - sl.start, -COUNTRY_MINUTES:] *= COUNTRY_FACTOR
            counts = rng.poisson(mean)
            per_hour[sl] = np.add.reduceat(counts, np.arange(0, minutes, 60), axis=1)
            lane_idx, minute_idx = np.nonzero(counts)
            c = counts[lane_idx, minute_idx]
            # One draw per report: its problem and subdivision; equal draws share a row.
            lane_r = np.repeat(lane_idx, c) + first * lanes
            minute_r = np.repeat(minute_idx, c)
            service_r = lane_r // lanes
            sizes = np.asarray([len(p) for p in self.problems], dtype=np.int64)[service_r]
            problem_r = truncated_geometric(rng, len(lane_r), 0.6, sizes)
            sub_sizes = n_subs[lane_r]
            has_sub = (sub_sizes > 0) & (rng.random(len(lane_r)) < 0.5)
            sub_r = np.where(
                has_sub, 1 + truncated_geometric(rng, len(lane_r), 0.7, np.maximum(sub_sizes, 1)), 0
            )
            key = (
                ((service_r * minutes + minute_r) * lanes + lane_r % lanes) * 16 + sub_r
            ) * 8 + problem_r
            uniq, n = np.unique(key, return_counts=True)
            problem_u = uniq % 8
            sub_u = (uniq // 8) % 16
            lane_u = (uniq // 128) % lanes
            minute_u = (uniq // 128 // lanes) % minutes
            service_u = uniq // 128 // lanes // minutes
            lane_all = service_u * lanes + lane_u
            for sv, mi, la, su, pr, cnt in zip(
                service_u.tolist(),
                minute_u.tolist(),
                lane_all.tolist(),
                sub_u.tolist(),
                problem_u.tolist(),
                n.tolist(),
                strict=True,
            ):
                lines.append(
                    f"{self.service_ids[sv]}\t{minute_str[mi]}\t{self.countries[la]}\t"
                    f"{self.lane_subs[la][su - 1] if su else ''}\t{self.problems[sv][pr]}\t{cnt}\n"
                )
        lane_h, hour_h = np.nonzero(per_hour)
        for la, h in zip(lane_h.tolist(), hour_h.tolist(), strict=True):
            hour_lines.append(
                f"{self.service_ids[la // lanes]}\t{hour_str[h]}\t{self.countries[la]}\t"
                f"{per_hour[la, h]}\n"
            )
        return lines, hour_lines

    def hour_history(self, rng: np.random.Generator, start: datetime, hours: int) -> list[str]:
        """Hourly totals drawn from the same rates (no minutes kept for them)."""
        lanes = self.lanes
        t_hours = start.hour + 0.5 + np.arange(hours, dtype=np.float64)
        hour_str = grid_strings(start, timedelta(hours=1), hours)
        mean = 60.0 * self.lane_rate[:, None] * rhythm(t_hours[None, :] + self.lane_phase[:, None])
        counts = rng.poisson(mean)
        lines: list[str] = []
        lane_h, hour_h = np.nonzero(counts)
        for la, h in zip(lane_h.tolist(), hour_h.tolist(), strict=True):
            lines.append(
                f"{self.service_ids[la // lanes]}\t{hour_str[h]}\t{self.countries[la]}\t"
                f"{counts[la, h]}\n"
            )
        return lines

    def baseline_lines(self, start: datetime, hours: int, computed: datetime) -> list[str]:
        """Stored baselines (expected reports a minute) of the 5,000 series."""
        lanes = self.lanes
        t_hours = start.hour + 0.5 + np.arange(hours, dtype=np.float64)
        hour_str = grid_strings(start, timedelta(hours=1), hours)
        per_lane = self.lane_rate[:, None] * rhythm(t_hours[None, :] + self.lane_phase[:, None])
        total = per_lane.reshape(SERIES_SERVICES, lanes, hours).sum(axis=1)
        stamp = pg_time(computed)
        lines: list[str] = []
        for s in range(SERIES_SERVICES):
            sid = self.service_ids[s]
            for h in range(hours):
                lines.append(f"{sid}\t\t{hour_str[h]}\t{total[s, h]:.4f}\t{stamp}\n")
            for la in range(s * lanes, s * lanes + BUSY_COUNTRIES):
                for h in range(hours):
                    value = per_lane[la, h]
                    lines.append(
                        f"{sid}\t{self.countries[la]}\t{hour_str[h]}\t{value:.4f}\t{stamp}\n"
                    )
        return lines


def raw_reports(
    rng: np.random.Generator, service_ids: list[int], start: datetime
) -> tuple[list[str], int]:
    """1M raw report lines in created_at order over [start, start + RAW_SPAN)."""
    from outages.catalogue import CATALOGUE

    n = RAW_REPORTS
    n_services = len(service_ids)
    span_s = RAW_SPAN.total_seconds()
    popularity = np.asarray([e.popularity for e in CATALOGUE]) ** 1.3
    countries = np.asarray(COUNTRIES)
    country_w = 1.0 / np.arange(1, len(countries) + 1) ** 1.1
    # Two outages: a big global one and a regional one (Brazil).
    big, regional = int(np.argmax(popularity)), int(np.argsort(popularity)[-5])
    n_big, n_regional = 180_000, 120_000
    n_base = n - n_big - n_regional
    service = np.concatenate(
        [
            rng.choice(n_services, size=n_base, p=popularity / popularity.sum()),
            np.full(n_big, big),
            np.full(n_regional, regional),
        ]
    )
    offset = np.concatenate(
        [
            rng.uniform(0, span_s, n_base),
            rng.uniform(3600.0, 3600.0 + 45 * 60, n_big),
            rng.uniform(span_s - 40 * 60, span_s, n_regional),
        ]
    )
    country_i = rng.choice(len(countries), size=n, p=country_w / country_w.sum())
    country_i[n_base + n_big :] = np.where(
        rng.random(n_regional) < 0.8,
        int(np.flatnonzero(countries == "BR")[0]),
        country_i[n_base + n_big :],
    )
    sizes = np.asarray([len(e.problems) for e in CATALOGUE], dtype=np.int64)[service]
    problem_i = truncated_geometric(rng, n, 0.55, sizes)
    problem_i[n_base:] = np.where(rng.random(n - n_base) < 0.7, 0, problem_i[n_base:])
    subs = subdivision_codes()
    sub_lists = [
        subs.get(str(c), [])[:SUBDIVISIONS_PER_COUNTRY] if c in SUBDIVISION_COUNTRIES else []
        for c in countries
    ]
    n_subs = np.asarray([len(x) for x in sub_lists], dtype=np.int64)[country_i]
    has_sub = (n_subs > 0) & (rng.random(n) < 0.6)
    sub_i = np.where(has_sub, truncated_geometric(rng, n, 0.85, np.maximum(n_subs, 1)), -1)
    order = np.argsort(offset, kind="stable")
    stamps = np.datetime64(start.replace(tzinfo=None), "us") + (offset * 1e6).astype(
        "timedelta64[us]"
    )
    stamp_str = np.datetime_as_string(stamps, unit="us").tolist()
    comment_i = np.where(rng.random(n) < 0.08, rng.integers(0, len(COMMENTS), n), -1)
    source_i = rng.choice(3, size=n, p=[0.7, 0.25, 0.05])
    sources = ("web", "api", "batch")
    keys = rng.bytes(16 * n).hex()
    svc = [int(x) for x in service_ids]
    lines: list[str] = []
    for i in order.tolist():
        s = int(service[i])
        c = int(country_i[i])
        sub = sub_lists[c][sub_i[i]] if sub_i[i] >= 0 else ""
        comment = COMMENTS[comment_i[i]] if comment_i[i] >= 0 else ""
        lines.append(
            f"{svc[s]}\t{CATALOGUE[s].problems[problem_i[i]]}\t{countries[c]}\t{sub}\t{comment}\t"
            f"{stamp_str[i]}+00\t{sources[source_i[i]]}\t{keys[32 * i : 32 * i + 32]}\n"
        )
    return lines, n


# --- measurements -----------------------------------------------------------------------------


class StatementTimer:
    """Django execute wrapper: seconds per statement kind (its first three words)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.count = 0

    def __call__(
        self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
    ) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            kind = " ".join(sql.split()[:3]).lower()
            self.seconds[kind] = self.seconds.get(kind, 0.0) + time.perf_counter() - started
            self.count += 1


@contextmanager
def timed_calls(module: Any, names: tuple[str, ...], into: dict[str, float]) -> Iterator[None]:
    """Wrap module-level functions for the duration: seconds spent in each, summed."""
    saved = {name: getattr(module, name) for name in names}

    def wrap(name: str, fn: Callable[..., T]) -> Callable[..., T]:
        @functools.wraps(fn)
        def inner(*args: Any, **kwargs: Any) -> T:
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                into[name] = into.get(name, 0.0) + time.perf_counter() - started

        return inner

    for name, fn in saved.items():
        setattr(module, name, wrap(name, fn))
    try:
        yield
    finally:
        for name, fn in saved.items():
            setattr(module, name, fn)


def sql_seconds(sql: str, params: list[Any], *, fetch: bool = True) -> tuple[float, list[Any]]:
    """One statement on Django's connection (the product's driver setup); seconds, rows."""
    from django.db import connection

    with connection.cursor() as cursor:
        started = time.perf_counter()
        cursor.execute(sql, params)
        rows = cursor.fetchall() if fetch else []
        return time.perf_counter() - started, rows


def checkpoint(url: str) -> None:
    """Start timed writes from a clean checkpoint so a checkpoint lands in no run by chance."""
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CHECKPOINT")
    except psycopg.Error:
        pass


DERIVED_TABLES = (
    "minutecount",
    "regionhour",
    "hourcount",
    "serviceminute",
    "servicehour",
    "countryminute",
    "countryhour",
)


def bench_rollup(
    url: str, catalogue_ids: list[int], start: datetime, now: datetime, reports: int
) -> dict[str, object]:
    from django.conf import settings
    from django.db import DEFAULT_DB_ALIAS, connection, connections

    from analytics.models import (
        CountryHour,
        CountryMinute,
        HourCount,
        MinuteCount,
        RegionHour,
        RollupState,
        ServiceHour,
        ServiceMinute,
    )
    from analytics.rollup import ROLLUP, rollup_run

    lateness = timedelta(seconds=settings.ROLLUP_LATENESS)
    end = floor_minute(now) + timedelta(minutes=1)
    adapt = connection.ops.adapt_datetimefield_value
    bare = """
        SELECT service_id, date_trunc('minute', created_at) AS m, country, subdivision, problem,
               count(*)
        FROM reports_report
        WHERE created_at >= %s AND created_at < %s AND counted
        GROUP BY service_id, m, country, subdivision, problem
    """
    params = [adapt(start), adapt(end)]
    counted = f"SELECT count(*) FROM ({bare}) t"

    def reset() -> None:
        # Every row the rollup derives from these reports goes, so that each run writes them
        # as new, like the first rollup of new reports does.
        hours = floor_hour(start)
        MinuteCount.objects.filter(service_id__in=catalogue_ids, minute__gte=start).delete()
        for model, column, since in (
            (HourCount, "hour", hours),
            (RegionHour, "hour", hours),
            (ServiceMinute, "minute", start),
            (ServiceHour, "hour", hours),
        ):
            model.objects.filter(service_id__in=catalogue_ids, **{f"{column}__gte": since}).delete()
        CountryMinute.objects.filter(minute__gte=start).delete()
        CountryHour.objects.filter(hour__gte=hours).delete()
        vacuum(url, *(f"analytics_{t}" for t in DERIVED_TABLES), analyze=False)

    def timed_rollup(watermark: datetime) -> tuple[float, Any, dict[str, float]]:
        """rollup_run with seconds per statement kind and for the commit, where the deferred
        foreign-key checks of the inserted rows run."""
        RollupState.objects.filter(name=ROLLUP).update(complete_until=watermark)
        checkpoint(url)
        timer = StatementTimer()
        wrapper = connections[DEFAULT_DB_ALIAS]
        commit = wrapper.commit

        def timed_commit() -> None:
            started = time.perf_counter()
            try:
                commit()
            finally:
                timer.seconds["commit"] = timer.seconds.get("commit", 0.0) + (
                    time.perf_counter() - started
                )

        setattr(wrapper, "commit", timed_commit)  # noqa: B010 - an instance attribute, undone below
        try:
            with connection.execute_wrapper(timer):
                started = time.perf_counter()
                result = rollup_run(now=now)
                seconds = time.perf_counter() - started
        finally:
            delattr(wrapper, "commit")
        return seconds, result, timer.seconds

    def one_rollup() -> tuple[float, int, dict[str, float]]:
        # The run's range starts at watermark - lateness: exactly the first new report.
        seconds, result, by_kind = timed_rollup(start + lateness)
        assert (result.start, result.end) == (start, end), (result, start, end)
        return seconds, result.rows, by_kind

    log("rollup: warm-up (bare aggregation, one rollup run, one rerun over its rows)")
    _, groups_rows = sql_seconds(counted, params)
    groups = int(groups_rows[0][0])
    RollupState.objects.update_or_create(name=ROLLUP, defaults={"complete_until": start})
    reset()
    one_rollup()
    # Every minute row already there: the all-updates path, as a rerun over the same range.
    rerun_s, _, _ = one_rollup()
    runs: list[float] = []
    statements: list[dict[str, float]] = []
    rows = 0
    for i in range(REPEATS):
        reset()
        seconds, rows, by_kind = one_rollup()
        runs.append(seconds)
        statements.append(by_kind)
        log(f"rollup_run {i + 1}/{REPEATS}: {seconds:.2f} s, {rows:,} minute rows")
    written = MinuteCount.objects.filter(service_id__in=catalogue_ids, minute__gte=start)
    counted_reports = sum(written.values_list("count", flat=True))
    # The per-minute run after a previous one a minute ago: the lateness window again.
    steady = [timed_rollup(floor_minute(now) - timedelta(minutes=1)) for _ in range(REPEATS)]

    with connection.cursor() as cursor:
        # The reference at PostgreSQL's own planner defaults, parallel workers allowed (the
        # product's connections start them only for far larger plans).
        cursor.execute("SET parallel_setup_cost = 1000")
    bare_runs = [sql_seconds(counted, params)[0] for _ in range(REPEATS)]
    fetch_s, fetched = sql_seconds(bare, params)
    assert len(fetched) == groups == rows, (len(fetched), groups, rows)
    log(f"bare aggregation: {median(bare_runs):.2f} s (count), {fetch_s:.2f} s (fetch)")
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {counted}", params)
        plan = [str(r[0]) for r in cursor.fetchall()]
        cursor.execute("RESET parallel_setup_cost")
    # The floor of any table of minute rows: the rollup's own aggregation inserted into a
    # table with the same columns and no index, key or constraint at all.
    floor_runs = []
    for _ in range(REPEATS):
        checkpoint(url)
        with connection.cursor() as cursor:
            cursor.execute("CREATE TABLE bench_minute_floor (LIKE analytics_minutecount)")
            started = time.perf_counter()
            cursor.execute(
                "INSERT INTO bench_minute_floor "
                "(service_id, minute, country, subdivision, problem, count) "
                f"{bare} ORDER BY service_id, m",
                params,
            )
            floor_runs.append(time.perf_counter() - started)
            cursor.execute("DROP TABLE bench_minute_floor")
    log(f"heap-only insert of the same rows: {median(floor_runs):.2f} s")
    rollup_s, bare_s = median(runs), median(bare_runs)

    # The parts of the median run, so that they add up to its time.
    middle = statements[sorted(range(len(runs)), key=runs.__getitem__)[len(runs) // 2]]

    def statement_s(prefix: str) -> float:
        return sum(v for k, v in middle.items() if k.startswith(prefix))

    minute_s = statement_s("insert into analytics_minutecount")
    totals_s = {t: statement_s(f"insert into analytics_{t}") for t in DERIVED_TABLES[1:]}
    hour_s = sum(totals_s.values())
    commit_s = statement_s("commit")
    return {
        "reports": reports,
        "range_minutes": int((end - start).total_seconds() // 60),
        "minute_rows": rows,
        "reports_counted": counted_reports,
        "rollup_run_s": round(rollup_s, 3),
        "rollup_run_runs_s": [round(x, 3) for x in runs],
        "rollup_run_parts_s": {
            "minute_rows": round(minute_s, 3),
            "totals_resum": round(hour_s, 3),
            "totals_by_table": {t: round(v, 3) for t, v in totals_s.items()},
            "commit": round(commit_s, 3),
            "rest": round(rollup_s - minute_s - hour_s - commit_s, 3),
        },
        "rollup_rerun_all_updates_s": round(rerun_s, 3),
        "steady_state_run_s": round(median([x[0] for x in steady]), 3),
        "steady_state_range_minutes": int((end - steady[-1][1].start).total_seconds() // 60),
        "steady_state_minute_rows": steady[-1][1].rows,
        "bare_sql_s": round(bare_s, 3),
        "bare_sql_runs_s": [round(x, 3) for x in bare_runs],
        "bare_sql_method": "SELECT count(*) FROM (the GROUP BY) t over the same range: the "
        "aggregation on the server, nothing fetched",
        "bare_sql_plan": [line.split("  (")[0].strip() for line in plan][1:3],
        "bare_sql_parallel": any("Gather" in line for line in plan),
        "bare_sql_fetch_all_rows_s": round(fetch_s, 3),
        "floor_heap_insert_s": round(median(floor_runs), 3),
        "floor_method": "the same GROUP BY inserted into a table with the same columns and no "
        "index or constraint: what writing the minute rows costs before any key",
        "floor_ratio": round(median(floor_runs) / bare_s, 2),
        "ratio": round(rollup_s / bare_s, 2),
        "target_ratio_max": TARGETS["rollup_vs_bare_sql_max"],
    }


def bench_views(now: datetime, service_id: int) -> dict[str, object]:
    from django.db import connection

    adapt = connection.ops.adapt_datetimefield_value
    top = floor_hour(now) + timedelta(hours=1)
    week: list[Any] = [adapt(top - timedelta(days=7)), adapt(top)]
    day: list[Any] = [adapt(top - timedelta(hours=24)), adapt(top)]
    queries: dict[str, tuple[str, str, list[Any]]] = {
        "one_service_7d": (
            """SELECT date_trunc('hour', minute) AS h, sum(count) FROM analytics_minutecount
               WHERE service_id = %s AND minute >= %s AND minute < %s GROUP BY h ORDER BY h""",
            """SELECT hour, sum(count) FROM analytics_hourcount
               WHERE service_id = %s AND hour >= %s AND hour < %s GROUP BY hour ORDER BY hour""",
            [service_id, *week],
        ),
        "all_services_24h": (
            """SELECT service_id, date_trunc('hour', minute) AS h, sum(count)
               FROM analytics_minutecount WHERE minute >= %s AND minute < %s
               GROUP BY service_id, h ORDER BY service_id, h""",
            """SELECT service_id, hour, sum(count) FROM analytics_hourcount
               WHERE hour >= %s AND hour < %s
               GROUP BY service_id, hour ORDER BY service_id, hour""",
            day,
        ),
    }
    out: dict[str, object] = {"service_id": service_id}
    for name, (from_minutes, from_hours, params) in queries.items():
        timings: dict[str, float] = {}
        results: dict[str, list[Any]] = {}
        for label, sql in (("minutecount", from_minutes), ("hourcount", from_hours)):
            sql_seconds(sql, params)
            runs = []
            for _ in range(VIEW_REPEATS):
                seconds, results[label] = sql_seconds(sql, params)
                runs.append(seconds)
            timings[label] = median(runs) * 1000
        scope = "service_id = %s AND " if name.startswith("one") else ""
        _, scanned = sql_seconds(
            f"SELECT count(*) FROM analytics_minutecount WHERE {scope}minute >= %s AND minute < %s",
            params,
        )
        same = [tuple(r) for r in results["minutecount"]] == [
            tuple(r) for r in results["hourcount"]
        ]
        out[name] = {
            "group_by_minutecount_ms": round(timings["minutecount"], 2),
            "read_hourcount_ms": round(timings["hourcount"], 2),
            "minute_rows_read": int(scanned[0][0]),
            "result_rows": len(results["hourcount"]),
            "same_totals": same,
        }
        log(
            f"{name}: GROUP BY minutecount {timings['minutecount']:.1f} ms, "
            f"hourcount {timings['hourcount']:.1f} ms"
        )
    return out


@dataclass
class DetectionPass:
    seconds: float
    steps: dict[str, float]
    sql_s: float
    statements: int
    series: int
    opened: int
    active: int
    resolved: int


DETECTION_STEPS = (
    "busy_countries",
    "rollup_watermark",
    "minute_pair_rows",
    "hour_pair_rows",
    "grid_update",
    "grid_series",
    "detect_many",
    "incident_breakdown_update",
)
# Called by the incident domain's detection_apply, so timed in outages.services.
INCIDENT_DOMAIN_STEPS = ("incident_observe", "incident_resolve", "service_status_write")
SELECTOR_STEPS = ("busy_countries", "rollup_watermark", "minute_pair_rows", "hour_pair_rows")
GRID_STEPS = ("grid_update", "grid_series")
INCIDENT_STEPS = ("incident_observe", "incident_breakdown_update", "incident_resolve")
# A pass slower than this is run twice only (the first opens incidents, the second updates
# them), to keep the whole bench within a few minutes.
SLOW_PASS_S = 20.0


def bench_detection(url: str, now: datetime) -> dict[str, object]:
    from django.conf import settings
    from django.db import connection
    from django.db.models import Sum

    import analytics.services as services
    import outages.services as incident_services
    from analytics.models import HourCount, MinuteCount, RollupState
    from analytics.rollup import ROLLUP
    from outages.models import Incident

    # The loaded counts are rolled up to now, as on a running site.
    RollupState.objects.update_or_create(
        name=ROLLUP, defaults={"complete_until": floor_minute(now)}
    )
    services._kept_grids.clear()
    passes: list[DetectionPass] = []
    while len(passes) < REPEATS:
        if len(passes) == 2 and passes[0].seconds > SLOW_PASS_S:
            break
        spent: dict[str, float] = {}
        timer = StatementTimer()
        with (
            timed_calls(services, DETECTION_STEPS, spent),
            timed_calls(incident_services, INCIDENT_DOMAIN_STEPS, spent),
            connection.execute_wrapper(timer),
        ):
            started = time.perf_counter()
            result = services.detection_run(now=now)
            seconds = time.perf_counter() - started
        passes.append(
            DetectionPass(
                seconds=seconds,
                steps=spent,
                sql_s=sum(timer.seconds.values()),
                statements=timer.count,
                series=result.series,
                opened=result.opened,
                active=result.active,
                resolved=result.resolved,
            )
        )
        log(
            f"detection_run {len(passes)}: {seconds:.2f} s (detect_many "
            f"{spent.get('detect_many', 0.0):.2f} s), {result.series} series, "
            f"{result.opened} opened, {result.active} active"
        )

    # Reference: the rows the selectors read, by their own SQL on a plain psycopg connection
    # (its C loaders), fetched as tuples; nothing else.
    at = floor_minute(now) - timedelta(minutes=1)
    since = floor_hour(at - services.DETECTION_MINUTES)
    querysets: list[Any] = [
        HourCount.objects.filter(hour__gte=now - timedelta(days=7))
        .values("service_id", "country")
        .annotate(n=Sum("count"))
        .filter(n__gte=settings.COUNTRY_SERIES_MIN_REPORTS)
        .values_list("service_id", "country"),
        MinuteCount.objects.filter(minute__gte=since, minute__lt=at + timedelta(minutes=1))
        .values("service_id", "country", "minute")
        .annotate(n=Sum("count"))
        .values_list("service_id", "country", "minute", "n"),
        HourCount.objects.filter(
            hour__gte=since - services.DETECTION_HISTORY, hour__lt=since
        ).values_list("service_id", "country", "hour", "count"),
    ]
    fetch_runs: list[float] = []
    fetched = 0
    with psycopg.connect(url) as conn:
        conn.execute("SET TimeZone = 'UTC'")
        for _ in range(len(passes)):
            total, fetched = 0.0, 0
            for qs in querysets:
                sql, params = qs.query.sql_with_params()
                started = time.perf_counter()
                fetched += len(conn.execute(sql, list(params)).fetchall())
                total += time.perf_counter() - started
            fetch_runs.append(total)
            conn.rollback()
    log(f"reference fetch: {median(fetch_runs):.2f} s, {fetched:,} rows")

    def step(*names: str) -> float:
        return round(median([sum(p.steps.get(n, 0.0) for n in names) for p in passes]), 3)

    total_s = median([p.seconds for p in passes])
    return {
        "series": passes[-1].series,
        "detection_run_s": round(total_s, 3),
        "detection_run_runs_s": [round(p.seconds, 3) for p in passes],
        "first_pass_s": round(passes[0].seconds, 3),
        "first_pass_selectors_s": round(
            sum(passes[0].steps.get(n, 0.0) for n in SELECTOR_STEPS), 3
        ),
        "detect_many_s": step("detect_many"),
        "steps_s": {
            "selectors": step(*SELECTOR_STEPS),
            **{name: step(name) for name in SELECTOR_STEPS},
            "grids": step(*GRID_STEPS),
            "detect_many": step("detect_many"),
            "incident_writes": step(*INCIDENT_STEPS),
            "service_status_write": step("service_status_write"),
            "rest": round(total_s - step(*DETECTION_STEPS, *INCIDENT_DOMAIN_STEPS), 3),
        },
        # Statement execution as the server reports it, without fetching and loading rows.
        "sql_execute_s": round(median([p.sql_s for p in passes]), 3),
        "sql_statements": passes[-1].statements,
        "incidents": {
            "opened_first_run": passes[0].opened,
            "active": passes[-1].active,
            "open_after": Incident.objects.filter(ended_at=None).count(),
        },
        "reference_fetch_rows_s": round(median(fetch_runs), 3),
        "reference_rows": fetched,
        "reference_method": "a full read: busy countries, 30 h of minutes per (service, "
        "country), 7 weeks of hours, by plain SQL on a plain psycopg connection, fetchall; no "
        "ORM or pandas",
        "target_s_max": TARGETS["detection_run_s_max"],
    }


def load_series(
    url: str,
    rng: np.random.Generator,
    synthetic_ids: list[int],
    problems: list[tuple[str, ...]],
    now: datetime,
) -> tuple[SeriesData, dict[str, float], dict[str, int]]:
    now_min = floor_minute(now)
    log("generating 7 days of per-minute counts for 500 services")
    data = SeriesData(rng, synthetic_ids, problems)
    minute_start = floor_hour(now_min) - MINUTE_SPAN
    minutes = int((now_min - minute_start).total_seconds() // 60)
    minute_lines, hour_lines = data.minute_rows(rng, minute_start, minutes)
    log(f"COPY {len(minute_lines):,} minute rows, meanwhile generating 7 weeks of hours")
    with ThreadPoolExecutor(max_workers=1) as pool:
        minute_copy = pool.submit(
            copy_text,
            url,
            "analytics_minutecount",
            ("service_id", "minute", "country", "subdivision", "problem", "count"),
            minute_lines,
        )
        hist_start = floor_hour(now_min) - HOUR_SPAN
        hist_hours = int((minute_start - hist_start).total_seconds() // 3600)
        hour_lines = data.hour_history(rng, hist_start, hist_hours) + hour_lines
        base_start = floor_hour(now_min) - BASELINE_SPAN
        base_hours = int(BASELINE_SPAN.total_seconds() // 3600) + 1
        baseline = data.baseline_lines(base_start, base_hours, now)
        log(f"COPY {len(hour_lines):,} hour rows, {len(baseline):,} baselines")
        load = {
            "hourcount": copy_text(
                url, "analytics_hourcount", ("service_id", "hour", "country", "count"), hour_lines
            ),
            "baseline": copy_text(
                url,
                "analytics_baseline",
                ("service_id", "country", "hour", "expected", "computed_at"),
                baseline,
            ),
        }
        load["minutecount"] = minute_copy.result()
    rows = {"minutecount": len(minute_lines), "hourcount": len(hour_lines)}
    log("VACUUM ANALYZE")
    vacuum(url, "analytics_minutecount", "analytics_hourcount", "analytics_baseline")
    return data, load, rows


def load_reports(
    url: str, rng: np.random.Generator, catalogue_ids: list[int], start: datetime
) -> tuple[int, float]:
    log(f"generating {RAW_REPORTS:,} raw reports")
    lines, n = raw_reports(rng, catalogue_ids, start)
    log("COPY raw reports")
    seconds = copy_text(
        url,
        "reports_report",
        (
            "service_id",
            "problem",
            "country",
            "subdivision",
            "comment",
            "created_at",
            "source",
            "client_key",
        ),
        lines,
    )
    vacuum(url, "reports_report")
    return n, seconds


def run(url: str) -> dict[str, Any]:
    from django.db import connection

    now = floor_minute(datetime.now(UTC)) + timedelta(seconds=30)
    catalogue_ids, synthetic_ids, problems = create_services()
    # One random stream per data set: the reports do not depend on how many minutes the
    # series data spans at the time of the run.
    series_rng, reports_rng = (np.random.default_rng([SEED, i]) for i in (1, 2))
    data, load, synthetic_rows = load_series(url, series_rng, synthetic_ids, problems, now)

    log("detection")
    detection = bench_detection(url, now)

    raw_start = floor_minute(now) - RAW_SPAN
    n_reports, load["reports"] = load_reports(url, reports_rng, catalogue_ids, raw_start)
    rollup = bench_rollup(url, catalogue_ids, raw_start, now, n_reports)

    vacuum(url, "analytics_minutecount", "analytics_hourcount")
    busiest = int(data.service_ids[int(np.argmax(data.rate_total))])
    views = bench_views(now, busiest)

    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('work_mem'), current_setting('server_version')")
        work_mem, version = cursor.fetchone()
    return {
        "bench": "analytics",
        "seed": SEED,
        "repeats": REPEATS,
        "postgresql": version,
        "work_mem": work_mem,
        "cpus": os.cpu_count(),
        "data": {
            "catalogue_services": len(catalogue_ids),
            "synthetic_services": SERIES_SERVICES,
            "raw_reports": n_reports,
            "synthetic_minute_rows_7d": synthetic_rows["minutecount"],
            "synthetic_hour_rows_7w": synthetic_rows["hourcount"],
            "copy_s": {k: round(v, 1) for k, v in load.items()},
        },
        "rollup": rollup,
        "views": views,
        "detection": detection,
        "targets": TARGETS,
    }


def main() -> None:
    loadavg_start = os.getloadavg()
    url = configure()
    try:
        result = run(url)
    finally:
        finish_database(url, BENCH_DB, log=log)
    result["total_s"] = round(time.monotonic() - _STARTED, 1)
    # Other work on the host skews every timing here: the load average says how much.
    result["loadavg_1m"] = {"start": loadavg_start[0], "end": round(os.getloadavg()[0], 2)}
    print(json.dumps(result))


if __name__ == "__main__":
    main()

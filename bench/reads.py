"""Read benchmark: `python bench/reads.py` prints one JSON line (progress on stderr).

Pages and the read API at 10 M stored reports and 500 services, each beside a bare reference
measured in the same run: a Django view that returns `{"ok": true}` for the pages, a DRF
APIView doing the same (project DRF settings) for the API.

Runs against its own database, `outages_bench_reads` on the PostgreSQL of DATABASE_URL,
dropped and recreated at the start and dropped at the end, and against the Redis of
REDIS_URL (the product's cache; the bench flushes that Redis database, so give it one of its
own). Settings are the product's (`bench.settings` only adds the reference views), with the
read API's anonymous throttle raised so that the bench is never answered 429.

Data, made by PostgreSQL itself (INSERT ... SELECT over generate_series, fixed seed):
    * 500 services: the 58 of the catalogue and 442 more, popularity Zipf(0.9) by rank, so
      the busiest has about a tenth of all reports and the median one a report every 3 min.
    * 10,000,000 reports over the last 14 days: 30 countries (Zipf), subdivisions in ten of
      them, each service's own problems (skewed), 8 % with a comment; bursts: outages in
      progress at 3 services, and 10 past ones within the last 2 days (the last day's replayed
      by `incidents_backfill`).
    Then to what pages read: minute and hour rows for all but the last hour in bulk (the
    rollup's own aggregation, one INSERT ... SELECT, indexes built after), then the product's
    tasks: `rollup_run()` (the last hour, as live), `baseline_run()`, `incidents_backfill()`
    over the last day, `detection_run()`.

Measured (Django's test client, in process: the whole request through middleware, view,
template or renderer; no network), for a sample of services (the 10 busiest and 40 drawn at
random with a fixed seed), each request in three cache states in turn:
    * cold: the cache flushed first, so every read goes to the rollups;
    * new_minute: the current minute's entries dropped, hourly ones kept: what the first
      request of each minute finds (the rest of that minute's requests are warm);
    * warm: the same request again.
    * service page `/<slug>/`, and the busiest service's page alone; p50, p95 in ms. For
      the record, the pages about every service: home, live map, a region (US).
    * API: `/services/<slug>/trend` (default 24 h in 15-min buckets; 7 days hourly; the last
      6 h per minute), `/services/<slug>/heatmap` (1 h, countries; 24 h, subdivisions of the
      US), and `/heatmap?window=1h` (all services).
    * references: `/bench/bare` (Django) and `/bench/bare-drf` (DRF), the same client.

The load average at the start and end is reported: other work on the host skews every figure.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
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
from common.time import floor_hour  # noqa: E402

BENCH_DB = "outages_bench_reads"
SEED = 20261126
SERVICES = 500
REPORTS = 10_000_000
SPAN = timedelta(days=14)
ZIPF = 0.9
# Outages in progress: (service rank, reports, minutes, main country).
LIVE_OUTAGES = ((0, 60_000, 40, "US"), (3, 30_000, 30, "BR"), (40, 8_000, 25, "DE"))
# Past ones within the last two days: (service rank, reports, minutes, hours ago).
PAST_OUTAGES = tuple(
    (r, 15_000, 60, 4 + 4 * i) for i, r in enumerate((1, 2, 5, 8, 13, 21, 34, 55, 89, 144))
)
BACKFILL_SPAN = timedelta(days=1)
SAMPLE_TOP, SAMPLE_RANDOM = 10, 40
ROUNDS = 3
TARGETS = {"service_page_median_ms_max": 50.0, "api_trend_heatmap_p95_ms_max": 25.0}

_STARTED = time.monotonic()


def log(message: str) -> None:
    print(f"[reads {time.monotonic() - _STARTED:6.1f}s] {message}", file=sys.stderr, flush=True)


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def summary(values: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(statistics.median(values), 2),
        "p95_ms": round(percentile(values, 95), 2),
        "max_ms": round(max(values), 2),
        "n": len(values),
    }


# --- setup ------------------------------------------------------------------------------------


def configure() -> str:
    """Recreate the bench database, point Django at it and migrate; returns its URL."""
    if not os.environ.get("REDIS_URL"):
        raise SystemExit("REDIS_URL must name a Redis database the bench may flush")
    # Every request of the bench comes from one address: the per-IP limit would answer 429.
    os.environ["API_THROTTLE_ANON"] = "100000000/minute"
    url = django_on_new_database(BENCH_DB, settings_module="bench.settings", log=log)
    from django.core.management import call_command

    # Pages link their static files through the manifest, as in production.
    call_command("collectstatic", interactive=False, verbosity=0)
    return url


def create_services() -> list[tuple[int, str, list[str]]]:
    """The catalogue and synthetic services, busiest first: (id, slug, problems)."""
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
    for i in range(SERVICES - len(CATALOGUE)):
        model = CATALOGUE[i % len(CATALOGUE)]
        rows.append(
            Service(
                slug=f"service-{i:03d}",
                name=f"Service {i:03d}",
                category=model.category,
                home_url=f"https://service-{i:03d}.example",
                problems=list(model.problems),
            )
        )
    Service.objects.bulk_create(rows, batch_size=1000)
    services = list(Service.objects.order_by("id").values_list("id", "slug", "problems"))
    # Popularity rank: a fixed shuffle, so the busiest are a mix of catalogue and others.
    random.Random(SEED).shuffle(services)
    return [(int(i), str(s), list(p)) for i, s, p in services]


def picks(weights: np.ndarray, slots: int) -> np.ndarray:
    """Slot indices in proportion to weights: a uniform draw of a slot is a weighted draw."""
    counts = np.maximum(np.round(weights / weights.sum() * slots).astype(np.int64), 1)
    return np.repeat(np.arange(len(weights)), counts)


# Country draws are indices into a short array: subscripting a long text[] walks it.
_INSERT = """
    INSERT INTO reports_report
        (service_id, problem, country, subdivision, comment, created_at, source, client_key)
    SELECT g.s,
           p.problems[1 + floor(ln(1 - random()) / ln(0.55))::int %% cardinality(p.problems)],
           g.c,
           coalesce(CASE WHEN random() < 0.6 THEN
               sb.subs[1 + floor(ln(1 - random()) / ln(0.9))::int %% cardinality(sb.subs)] END, ''),
           CASE WHEN random() < 0.08
                THEN (%(comments)s::text[])[1 + floor(random() * 4)::int] ELSE '' END,
           %(end)s::timestamptz - random() * %(span)s * interval '1 second',
           (ARRAY['web', 'web', 'web', 'api', 'batch'])[1 + floor(random() * 5)::int],
           md5(g.i::text)
    FROM (
        SELECT i,
               (%(svc)s::int[])[1 + floor(random() * %(n_svc)s)::int] AS s,
               (%(countries)s::text[])[(%(cc)s::int[])[1 + floor(random() * %(n_cc)s)::int]] AS c
        FROM generate_series(%(first)s, %(last)s) i
    ) g
    JOIN bench_problems p ON p.service_id = g.s
    LEFT JOIN bench_subs sb ON sb.country = g.c
"""


def load_reports(url: str, services: list[tuple[int, str, list[str]]], now: datetime) -> float:
    """10 M reports made by PostgreSQL, indexes built after the load; returns seconds."""
    started = time.perf_counter()
    ranks = np.arange(1, len(services) + 1, dtype=np.float64)
    ids = np.asarray([s[0] for s in services], dtype=np.int64)
    svc_pick = ids[picks(ranks**-ZIPF, 50_000)].tolist()
    country_w = 1.0 / np.arange(1, len(COUNTRIES) + 1) ** 1.1
    cc_pick = (picks(country_w, 1_000) + 1).tolist()
    main_country = {c: i + 1 for i, c in enumerate(COUNTRIES)}
    subs = {c: v for c, v in subdivision_codes().items() if c in SUBDIVISION_COUNTRIES}
    bursts: list[tuple[int, int, list[int], datetime, float]] = []
    for rank, n, minutes, country in LIVE_OUTAGES:
        mix = [main_country[country]] * 7 + cc_pick[:3]
        bursts.append((ids[rank], n, mix, now, minutes * 60.0))
    for rank, n, minutes, hours_ago in PAST_OUTAGES:
        bursts.append((ids[rank], n, cc_pick, now - timedelta(hours=hours_ago), minutes * 60.0))
    base = REPORTS - sum(b[1] for b in bursts)
    with psycopg.connect(url) as conn:
        try:
            # Rows valid by construction: skip the per-row foreign-key triggers where the role
            # may (a superuser); otherwise they run.
            with conn.transaction():
                conn.execute("SET session_replication_role = replica")
        except psycopg.Error:
            pass
        conn.execute("SELECT setseed(0.26)")
        conn.execute(
            "CREATE TEMP TABLE bench_problems (service_id int PRIMARY KEY, problems text[])"
        )
        conn.execute("CREATE TEMP TABLE bench_subs (country text PRIMARY KEY, subs text[])")
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO bench_problems VALUES (%s, %s)", [(s[0], s[2]) for s in services]
            )
            cur.executemany("INSERT INTO bench_subs VALUES (%s, %s)", list(subs.items()))
        indexes = conn.execute(
            "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x "
            "JOIN pg_class i ON i.oid = x.indexrelid "
            "WHERE x.indrelid = 'reports_report'::regclass AND NOT x.indisprimary"
        ).fetchall()
        for name, _ in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        common = {
            "comments": list(COMMENTS),
            "countries": list(COUNTRIES),
            "n_cc": len(cc_pick),
            "cc": cc_pick,
        }
        chunk = 2_000_000
        for first in range(0, base, chunk):
            n = min(chunk, base - first)
            conn.execute(
                _INSERT,
                {
                    **common,
                    "svc": svc_pick,
                    "n_svc": len(svc_pick),
                    "end": now,
                    "span": SPAN.total_seconds(),
                    "first": first,
                    "last": first + n - 1,
                },
            )
            log(f"reports: {first + n:,} of {base:,} (plus {REPORTS - base:,} in bursts)")
        first = base
        for service_id, n, mix, end, span in bursts:
            conn.execute(
                _INSERT,
                {
                    **common,
                    "cc": mix,
                    "n_cc": len(mix),
                    "svc": [service_id],
                    "n_svc": 1,
                    "end": end,
                    "span": span,
                    "first": first,
                    "last": first + n - 1,
                },
            )
            first += n
        # Deferred foreign-key checks (if they ran) must be done before an index is built.
        conn.commit()
        log("building the report indexes")
        for _, definition in indexes:
            conn.execute(definition)
        conn.commit()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE) reports_report")
    return time.perf_counter() - started


def history_rollups(url: str, until: datetime) -> float:
    """Minute rows for every report before `until` by the rollup's own aggregation in one
    INSERT ... SELECT with the indexes built after (what a first rollup over years of imported
    history would want too), then every total summed from them by the rollup's own
    `totals_resum`; returns seconds. `rollup_run()` takes over from `until`, its lateness
    window overlapping these."""
    from django.db import connection, transaction

    from analytics.rollup import ROLLUP_WORK_MEM, totals_resum

    started = time.perf_counter()
    with psycopg.connect(url) as conn:
        conn.execute("SET TimeZone = 'UTC'")
        dropped: list[tuple[str, str, str]] = []
        tables = ("analytics_minutecount",)
        for table in tables:
            for name, kind, definition in conn.execute(
                "SELECT conname, 'constraint', pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conrelid = %s::regclass AND contype IN ('p', 'u', 'f')",
                [table],
            ).fetchall():
                conn.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
                dropped.append(
                    (table, kind, f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
                )
            for name, definition in conn.execute(
                "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x "
                "JOIN pg_class i ON i.oid = x.indexrelid "
                "WHERE x.indrelid = %s::regclass AND NOT x.indisprimary",
                [table],
            ).fetchall():
                conn.execute(f'DROP INDEX "{name}"')
                dropped.append((table, "index", definition))
        conn.execute(
            """INSERT INTO analytics_minutecount
                   (service_id, minute, country, subdivision, problem, count)
               SELECT service_id, date_trunc('minute', created_at) AS m, country, subdivision,
                      problem, count(*)
               FROM reports_report WHERE created_at < %s AND counted
               GROUP BY service_id, m, country, subdivision, problem""",
            [until],
        )
        for _, _kind, statement in dropped:
            conn.execute(statement)
        conn.commit()
    from analytics.models import RollupState
    from analytics.rollup import ROLLUP

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE) analytics_minutecount")
        first = conn.execute("SELECT min(minute) FROM analytics_minutecount").fetchone()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL work_mem = '{ROLLUP_WORK_MEM}'")
        if first and first[0]:
            totals_resum(since=first[0], until=until)
    RollupState.objects.update_or_create(name=ROLLUP, defaults={"complete_until": until})
    with psycopg.connect(url, autocommit=True) as conn:
        for table in (
            "regionhour",
            "hourcount",
            "serviceminute",
            "servicehour",
            "countryminute",
            "countryhour",
        ):
            conn.execute(f"VACUUM (ANALYZE) analytics_{table}")
    return time.perf_counter() - started


def pipeline(url: str, now: datetime) -> dict[str, float]:
    """From raw reports to what pages read: history in bulk, then the product's own tasks."""
    from analytics.rollup import rollup_run
    from analytics.services import baseline_run, detection_run, incidents_backfill

    seconds: dict[str, float] = {}

    def step(name: str, fn: Callable[[], Any]) -> Any:
        started = time.perf_counter()
        result = fn()
        seconds[name] = round(time.perf_counter() - started, 1)
        log(f"{name}: {seconds[name]} s ({result})")
        return result

    # The last hour goes through rollup_run like live traffic; earlier ones in bulk.
    live_from = floor_hour(now) - timedelta(hours=1)
    step("history_rollups_bulk", lambda: history_rollups(url, live_from))
    step("rollup_run_last_hour", lambda: rollup_run(now=now))
    step("baseline_run", lambda: baseline_run(now=now))
    step(
        "incidents_backfill",
        lambda: incidents_backfill(since=now - BACKFILL_SPAN, until=now - timedelta(hours=1)),
    )
    step("detection_run", lambda: detection_run(now=now))

    def analyze() -> None:
        # A running site's autovacuum keeps planner statistics current; here the tables
        # grew by hundreds of thousands of rows seconds ago (the baselines' stale estimates
        # made the planner intersect two indexes: 3 ms instead of 0.7 ms).
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("ANALYZE")

    step("analyze", analyze)
    return seconds


# --- measurements -----------------------------------------------------------------------------


def expire(mode: str) -> None:
    """ "cold": the whole cache flushed; "new_minute": the keys of the current minute dropped
    (what the first request of each minute finds: hourly entries still there)."""
    from django.core.cache import cache

    if mode == "cold":
        cache.clear()
    elif mode == "new_minute":
        client = cache._cache.get_client()  # type: ignore[attr-defined]
        keep = b":pages:shares:"
        stale = [k for k in client.scan_iter(count=1000) if keep not in k]
        if stale:
            client.delete(*stale)


def timed_get(client: Any, path: str, *, mode: str = "warm") -> float:
    expire(mode)
    started = time.perf_counter()
    response = client.get(path)
    ms = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise SystemExit(f"GET {path}: {response.status_code} {response.content[:300]!r}")
    return ms


MODES = ("cold", "new_minute", "warm")


def measure(client: Any, paths: list[str]) -> dict[str, dict[str, float]]:
    """Every path in each cache state, the states in turn (the warm one right after the
    new-minute one, so it finds that request's entries)."""
    times: dict[str, list[float]] = {mode: [] for mode in MODES}
    for _ in range(ROUNDS):
        for path in paths:
            for mode in MODES:
                times[mode].append(timed_get(client, path, mode=mode))
    return {mode: summary(values) for mode, values in times.items()}


def measure_bare(client: Any, path: str, n: int) -> dict[str, float]:
    return summary([timed_get(client, path) for _ in range(n)])


def run(url: str) -> dict[str, Any]:
    from django.db import connection
    from django.db.models import Count
    from django.test import Client

    from outages.models import Incident
    from reports.models import Report

    now = datetime.now(UTC).replace(second=30, microsecond=0)
    services = create_services()
    load_s = load_reports(url, services, now)
    stored = Report.objects.count()
    log(f"{stored:,} reports stored in {load_s:.0f} s")
    steps = pipeline(url, now)
    # Requests are timed at the real clock: the pipeline ran up to "now", a few minutes ago.
    slugs = [s[1] for s in services]
    sample = slugs[:SAMPLE_TOP] + random.Random(SEED).sample(slugs[SAMPLE_TOP:], SAMPLE_RANDOM)
    client = Client()
    # One warm-up pass (imports, template compilation, connection).
    for slug in sample[:3]:
        timed_get(client, f"/{slug}/")
        timed_get(client, f"/api/v1/services/{slug}/trend")
    timed_get(client, "/bench/bare")
    timed_get(client, "/bench/bare-drf")

    log("service pages")
    pages = measure(client, [f"/{s}/" for s in sample])
    busiest = measure(client, [f"/{slugs[0]}/"] * 5)
    # The other pages, for the record: every service at once.
    other_pages = {
        "home": measure(client, ["/"] * 10),
        "live_map": measure(client, ["/map/"] * 10),
        "region_us": measure(client, ["/region/US/"] * 10),
    }
    log("API")
    api_paths = {
        "trend_24h_15m": [f"/api/v1/services/{s}/trend" for s in sample],
        "trend_7d_1h": [f"/api/v1/services/{s}/trend?range=7d" for s in sample],
        "trend_6h_1m": [
            f"/api/v1/services/{s}/trend?bucket=1m&from="
            f"{(now - timedelta(hours=6)).strftime('%Y-%m-%dT%H:%M:00Z')}"
            for s in sample
        ],
        "heatmap_1h_country": [f"/api/v1/services/{s}/heatmap?window=1h" for s in sample],
        "heatmap_24h_us_states": [
            f"/api/v1/services/{s}/heatmap?window=24h&level=subdivision&country=US" for s in sample
        ],
        "heatmap_all_1h": ["/api/v1/heatmap?window=1h"] * 20,
    }
    api = {name: measure(client, paths) for name, paths in api_paths.items()}
    log("references")
    bare = measure_bare(client, "/bench/bare", 500)
    bare_drf = measure_bare(client, "/bench/bare-drf", 500)

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT count(*) FROM analytics_minutecount), "
            "(SELECT count(*) FROM analytics_hourcount), "
            "(SELECT count(*) FROM analytics_baseline), "
            "current_setting('server_version')"
        )
        minute_rows, hour_rows, baselines, version = cursor.fetchone()
    counts = list(
        Report.objects.values("service_id").annotate(n=Count("id")).values_list("n", flat=True)
    )
    return {
        "bench": "reads",
        "seed": SEED,
        "postgresql": version,
        "cpus": os.cpu_count(),
        "data": {
            "services": len(services),
            "reports_stored": stored,
            "reports_busiest_service": max(counts),
            "reports_median_service": int(statistics.median(counts)),
            "minutecount_rows": minute_rows,
            "hourcount_rows": hour_rows,
            "baseline_rows": baselines,
            "incidents": Incident.objects.count(),
            "open_incidents": Incident.objects.filter(ended_at=None).count(),
            "load_s": round(load_s, 1),
            "pipeline_s": steps,
        },
        "sample": {"services": len(sample), "busiest": SAMPLE_TOP, "random": SAMPLE_RANDOM},
        "rounds": ROUNDS,
        "service_page": pages,
        "service_page_busiest": busiest,
        "other_pages": other_pages,
        "bare_django_view": bare,
        "service_page_p50_ms": {mode: pages[mode]["p50_ms"] for mode in MODES},
        "api": api,
        "bare_drf_view": bare_drf,
        # The worst endpoint's p95 in each cache state.
        "api_worst_p95_ms": {
            mode: max(api[name][mode]["p95_ms"] for name in api) for mode in MODES
        },
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
    result["loadavg_1m"] = {"start": loadavg_start[0], "end": round(os.getloadavg()[0], 2)}
    print(json.dumps(result))


if __name__ == "__main__":
    main()

"""What each design of the single-report write costs at its least: prints one JSON line.

Run: ``python bench/intake_designs.py`` (``make bench-designs``, about a minute; the local
PostgreSQL and Redis, as ``bench/intake.py`` uses them). A minimal WSGI app, none of the
product's code, served by gunicorn as the product is (2 gthread workers x 4 threads), driven
by wrk with the same script, connections and client addresses as ``bench/intake.py``:

* ``bare``: parse the JSON body, answer it. The reference of this run.
* ``two_round_trips``: the product's former design. One Redis script doing the same four
  operations as it did (rate-limit counter, dedupe claim, address cap, intact marker), then,
  for a first report, one INSERT committed on its own (autocommit, a prepared statement).
* ``one_statement``: the product's design (``reports.services._accept_in_one_statement``,
  less its check of the stored reports): the three controls kept in PostgreSQL, in an
  UNLOGGED table, and decided by the same statement that inserts the report: three upserts
  and the insert in one statement, one round trip and one commit. ``INSERT ... ON CONFLICT
  DO UPDATE`` locks the key's row, so two requests of one client wait for each other and the
  second sees the first's claim: the dedupe holds across workers without Redis.

The designs take turns (BENCH_ROUNDS, 5 rounds of BENCH_SECONDS / rounds each) and the ratios
are of their medians. The answers are checked against the rows (each 201 of the two writing
designs is a row), and ``tests/bench/test_intake_designs.py`` checks that both store a first
report and refuse a repeat alike, so neither is measured doing less than it says. Left out:
the product's own work per report (validation, the client key's HMAC, the answer's fields
and headers, Django's database wrapper), which ``bench/intake.py`` measures.
"""

import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psycopg
import redis

DESIGNS = ("bare", "two_round_trips", "one_statement")
TABLES = """
CREATE UNLOGGED TABLE design_claim (key text PRIMARY KEY, n integer NOT NULL,
                                    until timestamptz NOT NULL);
CREATE TABLE design_report (id bigserial PRIMARY KEY, service text NOT NULL,
                            problem text NOT NULL, country text NOT NULL,
                            client_key text NOT NULL, counted boolean NOT NULL,
                            created_at timestamptz NOT NULL);
CREATE INDEX ON design_report (created_at);
"""
# The product's limits: 15-minute dedupe and address cap, a per-minute rate limit (raised, as
# in bench/intake.py, only as a guard: no address repeats).
DEDUPE_SECONDS = 900
RATE_SECONDS = 60
RATE_LIMIT = 10**9
CAP_LIMIT = 3
CLAIM_LUA = """
local rate = redis.call('INCR', KEYS[1])
if rate == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
if rate > tonumber(ARGV[2]) then return {rate, 0, 0, '0'} end
if not redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[3]) then return {rate, 0, 0, '0'} end
local cap = redis.call('INCR', KEYS[3])
if cap == 1 then redis.call('EXPIRE', KEYS[3], ARGV[3]) end
local since = redis.call('GET', KEYS[4])
if not since then redis.call('SET', KEYS[4], ARGV[4]); since = ARGV[4] end
return {rate, 1, cap, since}
"""
INSERT = (
    "INSERT INTO design_report (service, problem, country, client_key, counted, created_at) "
    "VALUES (%s, %s, %s, %s, %s, now()) RETURNING id"
)
# A counter row: restarted when its window has passed, else one more.
_COUNT = """
  ON CONFLICT (key) DO UPDATE SET
    n = CASE WHEN c.until < now() THEN 1 ELSE c.n + 1 END,
    until = CASE WHEN c.until < now() THEN excluded.until ELSE c.until END
  RETURNING n"""
ONE_STATEMENT = f"""
WITH rate AS (
  INSERT INTO design_claim AS c (key, n, until)
  VALUES (%(rate_key)s, 1, now() + make_interval(secs => %(rate_seconds)s)) {_COUNT}),
claim AS (
  INSERT INTO design_claim AS c (key, n, until)
  SELECT %(dedupe_key)s, 1, now() + make_interval(secs => %(dedupe_seconds)s)
  WHERE (SELECT n FROM rate) <= %(rate_limit)s
  ON CONFLICT (key) DO UPDATE SET n = 1, until = excluded.until WHERE c.until < now()
  RETURNING n),
cap AS (
  INSERT INTO design_claim AS c (key, n, until)
  SELECT %(cap_key)s, 1, now() + make_interval(secs => %(dedupe_seconds)s)
  WHERE EXISTS (SELECT 1 FROM claim) {_COUNT}),
stored AS (
  INSERT INTO design_report (service, problem, country, client_key, counted, created_at)
  SELECT %(service)s, %(problem)s, %(country)s, %(client_key)s,
         (SELECT n FROM cap) <= %(cap_limit)s, now()
  WHERE EXISTS (SELECT 1 FROM claim)
  RETURNING id)
SELECT (SELECT n FROM rate), (SELECT id FROM stored)
"""

_local = threading.local()
_shared: dict[str, Any] = {}


def _connection() -> psycopg.Connection[Any]:
    conn = getattr(_local, "conn", None)
    if conn is None:
        conn = _local.conn = psycopg.connect(os.environ["DESIGNS_DATABASE_URL"], autocommit=True)
    return conn


def _redis() -> tuple[redis.Redis, str]:
    if "redis" not in _shared:
        client = redis.Redis.from_url(os.environ["DESIGNS_REDIS_URL"])
        _shared["sha"] = client.script_load(CLAIM_LUA)
        _shared["redis"] = client
    return _shared["redis"], _shared["sha"]


def two_round_trips(report: dict[str, str], address: str) -> tuple[int, Any]:
    client, sha = _redis()
    window = int(time.time()) // RATE_SECONDS
    prefix = os.environ.get("DESIGNS_KEY_PREFIX", "")
    keys = (
        f"{prefix}rl:{address}:{window}",
        f"{prefix}dd:{report['service']}:{address}",
        f"{prefix}ac:{report['service']}:{address}",
        f"{prefix}dd:intact",
    )
    rate, claimed, cap, _since = client.evalsha(
        sha, 4, *keys, RATE_SECONDS + 1, RATE_LIMIT, DEDUPE_SECONDS, int(time.time())
    )
    if int(rate) > RATE_LIMIT:
        return 429, None
    if not int(claimed):
        return 200, None
    row = (
        _connection()
        .execute(
            INSERT,
            (report["service"], report["problem"], report["country"], address, cap <= CAP_LIMIT),
            prepare=True,
        )
        .fetchone()
    )
    return 201, row[0] if row else None


def one_statement(report: dict[str, str], address: str) -> tuple[int, Any]:
    params = {
        "rate_key": f"rl:{address}",
        "rate_seconds": RATE_SECONDS,
        "rate_limit": RATE_LIMIT,
        "dedupe_key": f"dd:{report['service']}:{address}",
        "dedupe_seconds": DEDUPE_SECONDS,
        "cap_key": f"ac:{report['service']}:{address}",
        "cap_limit": CAP_LIMIT,
        "service": report["service"],
        "problem": report["problem"],
        "country": report["country"],
        "client_key": address,
    }
    row = _connection().execute(ONE_STATEMENT, params, prepare=True).fetchone()
    assert row is not None  # the SELECT always returns one row
    rate, stored = row
    if rate > RATE_LIMIT:
        return 429, None
    return (201, stored) if stored is not None else (200, None)


def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    path = environ.get("PATH_INFO", "")
    if path == "/healthz":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]
    length = int(environ.get("CONTENT_LENGTH") or 0)
    report = json.loads(environ["wsgi.input"].read(length))
    address = environ.get("HTTP_X_FORWARDED_FOR", environ.get("REMOTE_ADDR", ""))
    if path == "/bare":
        status, stored = 200, None
    elif path == "/two_round_trips":
        status, stored = two_round_trips(report, address)
    elif path == "/one_statement":
        status, stored = one_statement(report, address)
    else:
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found"]
    body = json.dumps({"id": stored, "service": report.get("service")}).encode()
    phrase = {200: "OK", 201: "Created", 429: "Too Many Requests"}[status]
    start_response(
        f"{status} {phrase}",
        [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
    )
    return [body]


def create_tables(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS design_claim, design_report")
        for statement in TABLES.split(";"):
            if statement.strip():
                conn.execute(statement)


def rows(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM design_report").fetchone()
        return int(row[0]) if row else 0


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from bench import intake as bench

    rounds = int(os.environ.get("BENCH_ROUNDS", "5"))
    seconds = float(os.environ.get("BENCH_SECONDS", "10")) / rounds
    db_url = bench.postgres_url()
    redis_url = bench.loopback_url("REDIS_URL", "redis://127.0.0.1:6379/15")
    designs_url = bench.with_path(db_url, "/outages_designs")
    wrk = bench.ensure_wrk()
    bench.log("recreating database outages_designs")
    bench.recreate_database(bench.with_path(db_url, "/postgres"), "outages_designs")
    create_tables(designs_url)
    env = {
        **os.environ,
        # Keys of this run's own: wrk's client addresses repeat from one run to the next.
        "DESIGNS_KEY_PREFIX": f"designs-{os.getpid()}:",
        "DESIGNS_DATABASE_URL": designs_url,
        "DESIGNS_REDIS_URL": redis_url,
        "PYTHONPATH": str(bench.ROOT),
    }
    rng = bench.random.Random(20240601)
    port = bench.free_port()
    base = f"http://127.0.0.1:{port}"
    results: dict[str, list[dict[str, Any]]] = {d: [] for d in DESIGNS}
    with tempfile.TemporaryDirectory(prefix="outages-designs-") as tmp_name:
        tmp = Path(tmp_name)
        bodies = tmp / "single.jsonl"
        items = bench.report_items(rng, bench.SINGLE_BODIES)
        bodies.write_text("".join(json.dumps(item) + "\n" for item in items))
        server = bench.start_gunicorn(env, port, tmp / "gunicorn.log", "bench.intake_designs:app")
        try:
            bench.wait_ready(port, server)
            bench.log(f"gunicorn ({bench.WORKERS} x {bench.THREADS}) on {base}; warming up")
            for design in DESIGNS:
                bench.run_wrk(wrk, f"{base}/{design}", bodies, 1)
            stored_before = rows(designs_url)
            for r in range(rounds):
                bench.log(f"round {r + 1}/{rounds}: {', '.join(DESIGNS)}, {seconds:g} s each")
                for design in DESIGNS:
                    results[design].append(bench.run_wrk(wrk, f"{base}/{design}", bodies, seconds))
        finally:
            bench.stop_gunicorn(server)
    created = sum(
        int(run["statuses"].get("201", 0)) for design in DESIGNS[1:] for run in results[design]
    )
    stored = rows(designs_url) - stored_before
    in_flight = bench.WRK_CONNECTIONS * rounds * (len(DESIGNS) - 1)
    per_design = {}
    for design in DESIGNS:
        runs = results[design]
        per_design[design] = {
            "requests_per_s": round(statistics.median(run["requests_per_s"] for run in runs), 1),
            "requests_per_s_rounds": [round(run["requests_per_s"], 1) for run in runs],
            "latency_p50_ms": round(
                statistics.median(run["latency_us"]["p50"] for run in runs) / 1e3, 2
            ),
            "statuses": {
                s: sum(int(run["statuses"].get(s, 0)) for run in runs)
                for s in sorted({s for run in runs for s in run["statuses"]})
            },
            "errors": sum(sum(run["errors"].values()) for run in runs),
        }  # fmt: skip
    bare = per_design["bare"]["requests_per_s"]
    print(
        json.dumps(
            {
                "bench": "intake_designs",
                "server": {
                    "workers": bench.WORKERS,
                    "threads": bench.THREADS,
                    "connections": bench.WRK_CONNECTIONS,
                    "cpus": os.cpu_count(),
                },
                "designs": per_design,
                "vs_bare": {
                    d: round(per_design[d]["requests_per_s"] / bare, 3) for d in DESIGNS[1:]
                },
                "one_statement_vs_two_round_trips": round(
                    per_design["one_statement"]["requests_per_s"]
                    / per_design["two_round_trips"]["requests_per_s"],
                    3,
                ),
                "created": created,
                "rows_stored": stored,
                # wrk stops with requests in flight whose rows were committed but whose answers
                # it no longer counts: at most one per connection and run.
                "every_201_a_row": created <= stored <= created + in_flight,
                # Every request a distinct client's first report: anything but 201 would mean
                # a design measured doing less than a real first report costs.
                "every_answer_201": all(
                    set(per_design[d]["statuses"]) == {"201"} for d in DESIGNS[1:]
                ),
            }
        )
    )


if __name__ == "__main__":
    main()

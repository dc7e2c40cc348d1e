"""Load test of the public pages and reads: `make loadtest` prints one JSON line (progress
goes to stderr).

The product runs as in production on this machine: gunicorn as docker/start-web.sh starts it
(2 workers × 4 threads), PostgreSQL and Redis, DEBUG off, with the demo's 14 days of history
rolled up, baselines stored and past incidents detected (a fresh `outages_loadtest`
database). wrk drives each path for a few seconds at 32 and at 256 connections, beside the
bare Django view (`/bench/bare`, the same middleware, server and load generator) in the same
run: the ratio is what compares across machines. Every request comes from a client address of
its own (bench/loadtest.lua), so the read throttle runs at its default limits and keeps one
small counter per client, as for a crowd. Then the outage-day mix (bench/loadtest_mix.lua):
a crowd on one service, nine reads to one report, ramping from 32 to 256 connections, with
every 201 counted against the rows stored; and the public pages and the same mix through
nginx (docker/nginx's template) in front of gunicorn, which then trusts two hops. Requests
ask for gzip, as every browser does.
"""

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.intake import (  # noqa: E402
    ROOT,
    ensure_wrk,
    free_port,
    http_call,
    log,
    loopback_url,
    postgres_url,
    recreate_database,
    run_checked,
    start_gunicorn,
    stop_gunicorn,
    wait_ready,
    with_path,
    worker_pids,
)
from bench.nginx import nginx_binary, nginx_configure, nginx_start  # noqa: E402

DB = "outages_loadtest"
LUA_SCRIPT = Path(__file__).resolve().parent / "loadtest.lua"
SECONDS = float(os.environ.get("LOADTEST_SECONDS", "8"))
CONNECTIONS = (32, 256)
PATHS = {
    "bare_django_view": "/bench/bare",
    "service_page": "/youtube/",
    "home": "/",
    "live_map": "/map/",
    "region_us": "/region/US/",
    "feed": "/api/v1/outages.atom",
    "api_service": "/api/v1/services/youtube",
    "api_trend_24h": "/api/v1/services/youtube/trend?range=24h",
    "api_heatmap": "/api/v1/services/youtube/heatmap?window=1h",
    "api_world_heatmap": "/api/v1/heatmap?window=1h",
    "api_open_outages": "/api/v1/outages/open",
}
# Through the front compose runs (docker/nginx): the public pages, and the bare view, which
# nginx does not keep (no caching headers), for what the proxy hop itself costs.
NGINX_PATHS = ("bare_django_view", "service_page", "home", "live_map", "region_us", "feed")
# The outage-day mix (bench/loadtest_mix.lua), straight to gunicorn: connections ramping up
# stage by stage, each stage this long.
MIX_SCRIPT = Path(__file__).resolve().parent / "loadtest_mix.lua"
MIX_STAGES = (32, 64, 128, 256)
MIX_SECONDS = float(os.environ.get("LOADTEST_MIX_SECONDS", "15"))
TARGETS = {
    "pages_vs_bare_min_at_32": 0.5,
    "pages_p99_ms_max_at_32": 100,
    "nginx_pages_vs_bare_min": 10,
    "nginx_pages_p99_ms_max_at_256": 50,
}


def wrk(binary: str, url: str, connections: int) -> dict[str, Any]:
    args = [
        binary,
        "--threads=2",
        f"--connections={connections}",
        f"--duration={int(SECONDS)}s",
        "--timeout=10s",
        f"--script={LUA_SCRIPT}",
        url,
    ]
    done = subprocess.run(args, capture_output=True, text=True, timeout=SECONDS + 60, check=False)
    for line in done.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            raw = json.loads(line.removeprefix("BENCH_JSON "))
            return {
                "req_per_s": round(raw["requests"] / (raw["duration_us"] / 1e6), 1),
                "p50_ms": round(raw["p50_us"] / 1000, 2),
                "p99_ms": round(raw["p99_us"] / 1000, 2),
                "errors": raw["non_2xx_3xx"] + raw["socket_errors"],
            }
    sys.stderr.write(done.stdout + done.stderr)
    raise SystemExit("wrk produced no result")


def mix_stage(binary: str, url: str, connections: int, stage: int) -> dict[str, Any]:
    args = [
        binary,
        "--threads=2",
        f"--connections={connections}",
        f"--duration={int(MIX_SECONDS)}s",
        "--timeout=10s",
        f"--script={MIX_SCRIPT}",
        url,
        "--",
        str(stage),
    ]
    done = subprocess.run(
        args, capture_output=True, text=True, timeout=MIX_SECONDS + 60, check=False
    )
    for line in done.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            raw = json.loads(line.removeprefix("BENCH_JSON "))
            seconds = raw["duration_us"] / 1e6
            statuses = {int(k): v for k, v in raw["statuses"].items()}
            return {
                "connections": connections,
                "req_per_s": round(raw["requests"] / seconds, 1),
                "reports_per_s": round(statuses.get(201, 0) / seconds, 1),
                "p50_ms": round(raw["p50_us"] / 1000, 2),
                "p99_ms": round(raw["p99_us"] / 1000, 2),
                "statuses": statuses,
                "server_errors": sum(v for k, v in statuses.items() if k >= 500),
                "socket_errors": raw["socket_errors"],
            }
    sys.stderr.write(done.stdout + done.stderr)
    raise SystemExit("wrk produced no result")


def mix_summary(stages: list[dict[str, Any]], stored: int) -> dict[str, Any]:
    """Every 201 must be a stored row, and no server error."""
    acknowledged = sum(row["statuses"].get(201, 0) for row in stages)
    log(f"outage-day mix: {acknowledged} acknowledged, {stored} stored")
    seconds = MIX_SECONDS * len(stages)
    return {
        "stages": stages,
        "reports_acknowledged": acknowledged,
        "reports_stored": stored,
        "reports_lost": max(acknowledged - stored, 0),
        # Requests still in flight when a stage's time runs out can be stored while wrk
        # never reads their 201: up to one per connection per stage.
        "reports_stored_without_a_201_read": max(stored - acknowledged, 0),
        "reports_per_s_absorbed": round(acknowledged / seconds, 1) if seconds else 0.0,
        "server_errors": sum(row["server_errors"] for row in stages),
    }


def worker_peak_rss_mb(master: int) -> float:
    return round(
        max(
            int(
                next(
                    line.split()[1]
                    for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                    if line.startswith("VmHWM:")
                )
            )
            / 1024
            for pid in worker_pids(master)
        ),
        1,
    )


def count_api_reports(db_url: str) -> int:
    with psycopg.connect(db_url) as conn:
        row = conn.execute("SELECT count(*) FROM reports_report WHERE source = 'api'").fetchone()
        return int(row[0]) if row else 0


def main() -> None:
    started = time.monotonic()
    db_url = postgres_url()
    redis_url = loopback_url("REDIS_URL", "redis://127.0.0.1:6379/11")
    binary = ensure_wrk()
    nginx = nginx_binary()
    log(f"recreating database {DB}")
    recreate_database(with_path(db_url, "/postgres"), DB)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "DATABASE_URL": with_path(db_url, f"/{DB}"),
        "REDIS_URL": redis_url,
        "CACHE_KEY_PREFIX": f"orload-{os.getpid()}",
        "SECRET_KEY": "outage-radar-loadtest-secret",
        "DEBUG": "False",
        # Plain HTTP on the loopback, as behind a proxy that terminates TLS: no redirect.
        "DEV_MODE": "true",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "TRUSTED_PROXY_COUNT": "1",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    python = sys.executable
    for command in (
        ["migrate", "--no-input", "-v", "0"],
        ["seed_services"],
        ["collectstatic", "--no-input", "-v", "0"],
        ["seed_demo"],
        ["detect_history"],
    ):
        log(f"manage.py {' '.join(command)}")
        run_checked([python, "manage.py", *command], env, timeout=1800)

    port = free_port()
    logfile = Path(os.environ.get("LOADTEST_LOG", "/tmp/outage-radar-loadtest.log"))
    server = start_gunicorn(env, port, logfile)
    results: dict[str, dict[str, Any]] = {}
    try:
        wait_ready(port, server)
        for path in PATHS.values():
            status, _ = http_call(port, "GET", path)
            if status != 200:
                raise SystemExit(f"{path} answered {status}")
        for connections in CONNECTIONS:
            for name, path in PATHS.items():
                result = wrk(binary, f"http://127.0.0.1:{port}{path}", connections)
                results.setdefault(name, {})[str(connections)] = result
                log(f"{name} at {connections}: {result}")
        # The outage-day mix: every 201 must be a stored row, and no server error.
        before = count_api_reports(with_path(db_url, f"/{DB}"))
        mix = [
            mix_stage(binary, f"http://127.0.0.1:{port}", c, stage)
            for stage, c in enumerate(MIX_STAGES, start=1)
        ]
        for row in mix:
            log(f"mix at {row['connections']}: {row}")
        outage_day = mix_summary(mix, count_api_reports(with_path(db_url, f"/{DB}")) - before)
        rss_mb = worker_peak_rss_mb(server.pid)
        # Behind nginx the client's address is one hop further: a server of its own that
        # trusts both hops, on the same database and cache.
        stop_gunicorn(server)
        server = start_gunicorn({**env, "TRUSTED_PROXY_COUNT": "2"}, port, logfile)
        wait_ready(port, server)
        through_nginx: dict[str, dict[str, Any]] = {}
        with tempfile.TemporaryDirectory(prefix="outage-radar-nginx-") as tmp:
            front_port = free_port()
            main_conf = nginx_configure(
                Path(tmp),
                upstream=f"127.0.0.1:{port}",
                port=front_port,
                workers=2,
                connections=4096,
            )
            front = nginx_start(nginx, main_conf, front_port)
            try:
                for connections in CONNECTIONS:
                    for name in NGINX_PATHS:
                        url = f"http://127.0.0.1:{front_port}{PATHS[name]}"
                        result = wrk(binary, url, connections)
                        through_nginx.setdefault(name, {})[str(connections)] = result
                        log(f"nginx {name} at {connections}: {result}")
                before = count_api_reports(with_path(db_url, f"/{DB}"))
                nginx_mix = [
                    mix_stage(binary, f"http://127.0.0.1:{front_port}", c, stage)
                    for stage, c in enumerate(MIX_STAGES, start=len(MIX_STAGES) + 1)
                ]
                for row in nginx_mix:
                    log(f"nginx mix at {row['connections']}: {row}")
                outage_day_nginx = mix_summary(
                    nginx_mix, count_api_reports(with_path(db_url, f"/{DB}")) - before
                )
            finally:
                front.terminate()
                front.wait(timeout=10)
    finally:
        stop_gunicorn(server)
    bare = {c: results["bare_django_view"][str(c)]["req_per_s"] for c in CONNECTIONS}
    for by_connections in results.values():
        for c in CONNECTIONS:
            row = by_connections[str(c)]
            row["vs_bare"] = round(row["req_per_s"] / bare[c], 3) if bare[c] else None
    # Through nginx, against the same bare Django view served by gunicorn directly.
    for by_connections in through_nginx.values():
        for c in CONNECTIONS:
            row = by_connections[str(c)]
            row["vs_bare"] = round(row["req_per_s"] / bare[c], 3) if bare[c] else None
    print(
        json.dumps(
            {
                "bench": "loadtest",
                "cpus": os.cpu_count(),
                "gunicorn": "2 workers x 4 threads (gthread)",
                "seconds_per_run": SECONDS,
                "paths": PATHS,
                "results": results,
                "through_nginx": through_nginx,
                "outage_day_mix": outage_day,
                "outage_day_mix_through_nginx": outage_day_nginx,
                "worker_peak_rss_mb": rss_mb,
                "targets": TARGETS,
                "total_s": round(time.monotonic() - started, 1),
                "loadavg_1m": os.getloadavg()[0],
            }
        )
    )


if __name__ == "__main__":
    main()

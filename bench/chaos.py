"""`make chaos`: the product as in production on servers of its own, under report traffic,
while its services fail one at a time. One JSON line per scenario on stdout, progress on
stderr.

Everything is its own and on loopback: a PostgreSQL cluster (initdb in a temporary
directory, on a free port, as the `postgres` user when run as root, since PostgreSQL refuses
root), a Redis server on another free port (no persistence, as the shared one), gunicorn
(2 workers x 4 threads, DEBUG off, a random SECRET_KEY), a Celery worker and Celery beat.
`TRUSTED_PROXY_COUNT=1` stands for the nginx in front: each report names its own client
address in X-Forwarded-For, so traffic is many people, not one.

Scenarios, each under paced reports (CHAOS_RATE a second, default 150, each from an address
of its own, each carrying a unique marker in its comment):
  baseline        nothing fails
  redis           redis-server killed (SIGKILL), restarted empty after CHAOS_OUTAGE_SECONDS
  postgres        `pg_ctl stop -m immediate`, started again after CHAOS_OUTAGE_SECONDS
  worker          the Celery worker killed (SIGKILL, its pool too) for
                  CHAOS_WORKER_DOWN_SECONDS (default 120), then started again
  flood           one address sending as fast as eight connections can for CHAOS_LOAD_SECONDS
  malformed       a corpus of hostile requests (tests/test_hostile_input.py's characters in
                  every field, deep nesting, huge numbers, bad UTF-8, odd charsets, crafted
                  cursors, a long request line, a chunked body, oversized bodies)

Per scenario: sent, acknowledged (201), stored (rows with the scenario's markers), lost
(acknowledged, not stored), duplicated (a marker stored more than once), the status codes
seen, 5xx (planned: 503 while the database is down; everything else is unplanned) and the
time to recover after the service returned. A worker returns when its process is started:
its recover_s runs from there to the end of its first detection pass, boot included
(worker_ready_s and pass_after_ready_s beside). Targets: 0 lost, 0 duplicated, 0 unplanned
5xx, recovery <= 5 s. A short run: CHAOS_LOAD_SECONDS=5 CHAOS_OUTAGE_SECONDS=5
CHAOS_WORKER_DOWN_SECONDS=10; CHAOS_SCENARIOS=worker (a comma list) runs only those.

Every wait has a deadline; every process started here is stopped at the end, by its id.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.intake import free_port  # noqa: E402
from tests.postgres import OwnPostgres, postgres_bin  # noqa: E402
from tests.redis import OwnRedis, redis_server_bin  # noqa: E402

DATABASE = "outages_chaos"
LOAD_SECONDS = float(os.environ.get("CHAOS_LOAD_SECONDS", "20"))
OUTAGE_SECONDS = float(os.environ.get("CHAOS_OUTAGE_SECONDS", "15"))
WORKER_DOWN_SECONDS = float(os.environ.get("CHAOS_WORKER_DOWN_SECONDS", "120"))
RATE = float(os.environ.get("CHAOS_RATE", "150"))
CLIENTS = int(os.environ.get("CHAOS_CLIENTS", "16"))
# A service that has come back must answer within this (the target).
RECOVERY_TARGET = 5.0
# The scenarios in which a service goes away and comes back.
RECOVERING = ("redis", "postgres", "worker")
# Bounds of every wait: a service that does not come back ends the scenario, not the run.
RECOVERY_DEADLINE = 60.0
REQUEST_TIMEOUT = 15.0
BIN = Path(sys.executable).parent


def log(message: str) -> None:
    print(f"[chaos {datetime.now(UTC):%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def emit(result: dict[str, Any]) -> None:
    print(json.dumps(result), flush=True)


@dataclass
class Answer:
    marker: str
    status: int  # 0: no answer (refused, reset, timed out)
    sent: float  # time.monotonic()
    done: float
    counted: bool | None = None  # a 200's "counted"


@dataclass
class App:
    """The product's processes and their services, all started here."""

    root: Path
    pg: OwnPostgres
    redis: OwnRedis
    port: int
    env: dict[str, str]
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def database_url(self) -> str:
        return f"postgres://root@127.0.0.1:{self.pg.port}/{DATABASE}"

    def start(self, name: str) -> None:
        commands = {
            # As docker/start-web.sh, on loopback.
            "web": [
                str(BIN / "gunicorn"),
                "config.wsgi:application",
                f"--bind=127.0.0.1:{self.port}",
                "--workers=2",
                "--threads=4",
                "--timeout=30",
                "--worker-tmp-dir=/dev/shm",
                f"--access-logfile={self.root / 'access.log'}",
            ],
            # The image's own start script (its celery is this environment's, on PATH), so
            # the worker measured is the one production starts.
            "worker": ["sh", str(ROOT / "docker" / "start-worker.sh")],
            # As docker/start-beat.sh.
            "beat": [
                str(BIN / "celery"),
                "-A",
                "config",
                "beat",
                f"--schedule={self.root / 'celerybeat-schedule'}",
                "--loglevel=INFO",
            ],
        }
        with open(self.root / f"{name}.log", "ab") as out:
            # A session of its own: the worker's pool and gunicorn's workers go with it.
            self.procs[name] = subprocess.Popen(
                commands[name],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        proc = self.procs.pop(name, None)
        if proc is None:
            return
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)

    def manage(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed: {done.stderr[-2000:]}")
        return done.stdout

    def sql(self, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.database_url, connect_timeout=5) as conn:
            return conn.execute(query, params).fetchall()


def request(
    port: int,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    conn: http.client.HTTPConnection | None = None,
) -> tuple[int, bytes]:
    """One request; status 0 when there was no answer."""
    own = conn is None
    conn = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    except (OSError, http.client.HTTPException):
        conn.close()
        return 0, b""
    finally:
        if own:
            conn.close()


def wait_until(check: Callable[[], bool], *, deadline: float, step: float = 0.1) -> float | None:
    """Seconds until `check()` held, or None if it did not within `deadline` seconds."""
    start = time.monotonic()
    while time.monotonic() - start < deadline:
        with suppress(Exception):
            if check():
                return time.monotonic() - start
        time.sleep(step)
    return None


def ready(port: int) -> dict[str, Any]:
    status, body = request(port, "GET", "/healthz/ready")
    if status not in (200, 503):
        return {}
    result: dict[str, Any] = json.loads(body)
    return result


class Load:
    """Reports at a steady rate from CLIENTS connections, each from its own address (or all
    from `address`, as fast as they can, for a flood)."""

    # Addresses are never reused across scenarios: a repeat would be a dedupe's 200.
    _addresses = 0
    _address_lock = threading.Lock()

    def __init__(
        self,
        app: App,
        scenario: str,
        slugs: list[tuple[str, str]],
        *,
        address: str | None = None,
    ) -> None:
        self.app, self.scenario, self.slugs, self.address = app, scenario, slugs, address
        self.answers: list[Answer] = []
        self._lock = threading.Lock()
        self._next = 0
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._t0 = 0.0

    def _claim(self) -> tuple[int, int, float]:
        with self._lock:
            i = self._next
            self._next += 1
        with Load._address_lock:
            address = Load._addresses
            Load._addresses += 1
        due = self._t0 if self.address else self._t0 + i / RATE
        return i, address, due

    def _run(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.app.port, timeout=REQUEST_TIMEOUT)
        answers: list[Answer] = []
        while not self._stop.is_set():
            i, n, due = self._claim()
            wait = due - time.monotonic()
            if wait > 0 and self._stop.wait(wait):
                break
            slug, problem = self.slugs[i % len(self.slugs)]
            marker = f"chaos {self.scenario}-{i}"
            body = json.dumps(
                {"service": slug, "problem": problem, "country": "US", "comment": marker}
            ).encode()
            address = self.address or f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"
            headers = {"Content-Type": "application/json", "X-Forwarded-For": address}
            sent = time.monotonic()
            status, payload = request(
                self.app.port, "POST", "/api/v1/reports", body, headers, conn=conn
            )
            answer = Answer(marker, status, sent, time.monotonic())
            if status == 200:
                with suppress(ValueError):
                    answer.counted = bool(json.loads(payload).get("counted"))
            answers.append(answer)
        conn.close()
        with self._lock:
            self.answers.extend(answers)

    def start(self) -> Load:
        self._t0 = time.monotonic()
        for _ in range(8 if self.address else CLIENTS):
            thread = threading.Thread(target=self._run, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> list[Answer]:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=REQUEST_TIMEOUT + 5)
        return sorted(self.answers, key=lambda a: a.sent)


# A report's marker: what its comment starts with (hostile characters may follow it).
MARKER = re.compile(r"^chaos [a-z]+-[0-9a-z]+")


def marker_of(comment: str) -> str:
    found = MARKER.match(comment)
    return found.group(0) if found else ""


def stored_markers(app: App, scenario: str) -> Counter[str]:
    rows = app.sql(
        "SELECT substring(comment from %s), count(*) FROM reports_report "
        "WHERE comment LIKE %s GROUP BY 1",
        (MARKER.pattern, f"chaos {scenario}-%"),
    )
    return Counter({comment: n for comment, n in rows})


def tally(
    app: App,
    scenario: str,
    answers: list[Answer],
    *,
    planned: Callable[[Answer], bool] = lambda a: False,
) -> dict[str, Any]:
    stored = wait_for_database(app, lambda: stored_markers(app, scenario))
    acked = {a.marker for a in answers if a.status == 201 and a.marker}
    statuses = Counter(str(a.status) for a in answers)
    errors = [a for a in answers if a.status >= 500]
    planned_errors = [a for a in errors if planned(a)]
    return {
        "scenario": scenario,
        "sent": len(answers),
        "acknowledged": len(acked),
        "stored": sum(stored.values()),
        "lost": len(acked - set(stored)),
        "duplicated": sum(n - 1 for n in stored.values() if n > 1),
        "stored_unacknowledged": len(set(stored) - acked),
        "status": dict(sorted(statuses.items())),
        "5xx": len(errors),
        "planned_5xx": len(planned_errors),
        "unplanned_5xx": len(errors) - len(planned_errors),
        "no_answer": statuses.get("0", 0),
    }


def wait_for_database(app: App, read: Callable[[], Any]) -> Any:
    deadline = time.monotonic() + RECOVERY_DEADLINE
    while True:
        try:
            return read()
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


LOG_TIME = rb"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}): INFO/[^\]]+\] "
PASS_LINE = re.compile(
    LOG_TIME + rb"Task analytics\.tasks\.detect_task\[[^\]]+\] succeeded", re.MULTILINE
)
READY_LINE = re.compile(LOG_TIME + rb"celery@\S+ ready\.", re.MULTILINE)


def logged_after(log: bytes, line: re.Pattern[bytes], moment: datetime) -> float | None:
    """Seconds from `moment` to the first `line` of a worker's log stamped after it (the log's
    times are UTC here, to the millisecond)."""
    for match in line.finditer(log):
        at = datetime.strptime(match.group(1).decode() + " +0000", "%Y-%m-%d %H:%M:%S,%f %z")
        seconds = (at - moment).total_seconds()
        if seconds > 0:
            return round(seconds, 2)
    return None


def first_pass_after(app: App, moment: datetime, *, deadline: float) -> float | None:
    """Seconds from `moment` to the end of the worker's first detection pass after it,
    waiting up to `deadline` seconds for one."""

    def found() -> float | None:
        return logged_after((app.root / "worker.log").read_bytes(), PASS_LINE, moment)

    wait_until(lambda: found() is not None, deadline=deadline, step=0.2)
    return found()


def worker_recovery(log: bytes, started: datetime) -> dict[str, Any]:
    """A restarted worker's recovery from its log: the judged figure counts from the moment
    its process was started (its boot is part of the outage, as a user sees it), with the
    boot and the pass after it beside."""
    ready_s = logged_after(log, READY_LINE, started)
    pass_s = logged_after(log, PASS_LINE, started)
    return {
        "recover_s": pass_s,
        "recover_what": "first detection pass done, from the worker process's start",
        "worker_ready_s": ready_s,
        "pass_after_ready_s": (
            None if ready_s is None or pass_s is None else round(pass_s - ready_s, 2)
        ),
    }


def rate_of(answers: list[Answer]) -> float:
    """Reports sent a second, over the time they were being sent."""
    if len(answers) < 2:
        return 0.0
    return round(len(answers) / max(answers[-1].sent - answers[0].sent, 1e-9), 1)


def first_ack_after(answers: list[Answer], moment: float) -> float | None:
    """Seconds from `moment` to the first acknowledgement of a report sent after it."""
    done = [a.done for a in answers if a.sent >= moment and a.status == 201]
    return round(min(done) - moment, 2) if done else None


def detection_pass_after(app: App, moment: datetime) -> bool:
    check = ready(app.port).get("checks", {}).get("detection", {})
    last = check.get("last_pass")
    return bool(last) and datetime.fromisoformat(last) > moment


def rollup_exact(app: App) -> dict[str, Any]:
    """Every counted report before the rollup's watermark is in exactly one minute count."""
    (watermark,) = app.sql("SELECT complete_until FROM analytics_rollupstate")[0]
    (reports,) = app.sql(
        "SELECT count(*) FROM reports_report WHERE counted AND created_at < %s", (watermark,)
    )[0]
    (minutes,) = app.sql(
        "SELECT coalesce(sum(count), 0) FROM analytics_minutecount WHERE minute < %s",
        (watermark,),
    )[0]
    return {"watermark": watermark.isoformat(), "reports": reports, "minute_counts": int(minutes)}


def rollup_caught_up(app: App, until: datetime, *, deadline: float) -> dict[str, Any]:
    """Wait for a rollup run past `until`, then compare it with the raw rows."""

    def past() -> bool:
        rows = app.sql("SELECT complete_until FROM analytics_rollupstate")
        return bool(rows) and rows[0][0] > until

    waited = wait_until(past, deadline=deadline, step=0.5)
    found = rollup_exact(app)
    found["exact"] = found["reports"] == found["minute_counts"]
    found["waited_s"] = None if waited is None else round(waited, 1)
    return found


# Scenarios -----------------------------------------------------------------------------------


def scenario_baseline(app: App, slugs: list[tuple[str, str]]) -> dict[str, Any]:
    load = Load(app, "baseline", slugs).start()
    time.sleep(LOAD_SECONDS)
    result = tally(app, "baseline", load.stop())
    result["rate_per_s"] = round(result["sent"] / LOAD_SECONDS, 1)
    result["recover_s"] = None
    return result


def scenario_redis(app: App, slugs: list[tuple[str, str]]) -> dict[str, Any]:
    load = Load(app, "redis", slugs).start()
    time.sleep(LOAD_SECONDS / 2)
    log("redis: SIGKILL")
    app.redis.kill()
    time.sleep(OUTAGE_SECONDS)
    app.redis.start()  # the same port, empty
    back, back_at = time.monotonic(), datetime.now(UTC)
    log("redis: started again (empty)")
    cache_back = wait_until(
        lambda: ready(app.port).get("checks", {}).get("cache", {}).get("ok") is True,
        deadline=RECOVERY_DEADLINE,
    )
    time.sleep(LOAD_SECONDS / 2)
    answers = load.stop()
    result = tally(app, "redis", answers)
    result["rate_per_s"] = rate_of(answers)
    result["recover_s"] = None if cache_back is None else round(cache_back, 2)
    result["recover_what"] = "readiness's cache check passes again"
    result["acknowledged_while_down"] = sum(
        1 for a in answers if back - OUTAGE_SECONDS <= a.sent < back and a.status == 201
    )
    # Passes run on the clock (every 30 s): informational, not a recovery.
    result["detection_resumed_s"] = first_pass_after(app, back_at, deadline=RECOVERY_DEADLINE)
    return result


def scenario_postgres(app: App, slugs: list[tuple[str, str]]) -> dict[str, Any]:
    load = Load(app, "postgres", slugs).start()
    time.sleep(LOAD_SECONDS / 2)
    log("postgres: stop -m immediate")
    down = time.monotonic()
    app.pg.stop()
    time.sleep(OUTAGE_SECONDS)
    app.pg.start()
    back, back_at = time.monotonic(), datetime.now(UTC)
    log("postgres: started again")
    time.sleep(max(LOAD_SECONDS / 2, RECOVERY_TARGET * 2))
    answers = load.stop()
    recovered = first_ack_after(answers, back)
    # 503 is the answer while the database is away, and for requests already inside a
    # connection attempt when it returned.
    until = back + (recovered if recovered is not None else RECOVERY_DEADLINE)
    result = tally(app, "postgres", answers, planned=lambda a: a.status == 503 and down <= a.done)
    result["rate_per_s"] = rate_of(answers)
    result["planned_5xx"] = sum(
        1 for a in answers if a.status == 503 and down <= a.done and a.sent <= until
    )
    result["unplanned_5xx"] = result["5xx"] - result["planned_5xx"]
    result["recover_s"] = recovered
    result["recover_what"] = "first report acknowledged after the server is back"
    late = [a.done - back for a in answers if a.status == 503 and a.done >= back]
    result["last_503_after_back_s"] = round(max(late), 2) if late else None
    ready_back = wait_until(
        lambda: ready(app.port).get("checks", {}).get("database", {}).get("ok") is True,
        deadline=RECOVERY_DEADLINE,
    )
    result["ready_database_ok_s"] = None if ready_back is None else round(ready_back, 2)
    result["detection_resumed_s"] = first_pass_after(app, back_at, deadline=RECOVERY_DEADLINE)
    return result


def scenario_worker(app: App, slugs: list[tuple[str, str]]) -> dict[str, Any]:
    load = Load(app, "worker", slugs).start()
    time.sleep(LOAD_SECONDS / 2)
    log(f"worker: SIGKILL for {WORKER_DOWN_SECONDS:.0f} s")
    app.kill("worker")
    time.sleep(WORKER_DOWN_SECONDS)
    worker_log = app.root / "worker.log"
    started_at = datetime.now(UTC)
    app.start("worker")
    log("worker: started again")
    first_pass_after(app, started_at, deadline=RECOVERY_DEADLINE)
    recovery = worker_recovery(worker_log.read_bytes(), started_at)
    # What the site sees: readiness dates a pass after the restart (polled through gunicorn
    # under the load, so up to a poll and a request later than the log says).
    seen = wait_until(lambda: detection_pass_after(app, started_at), deadline=RECOVERY_DEADLINE)
    seen_s = None if seen is None else (datetime.now(UTC) - started_at).total_seconds()
    time.sleep(LOAD_SECONDS / 2)
    answers = load.stop()
    load_end = datetime.now(UTC)
    result = tally(app, "worker", answers)
    result["rate_per_s"] = rate_of(answers)
    result.update(recovery)
    result["readiness_saw_pass_s"] = None if seen_s is None else round(seen_s, 2)
    # The rollup caught up with everything sent meanwhile, each report counted once.
    result["rollup"] = rollup_caught_up(app, load_end, deadline=90)
    return result


def scenario_flood(app: App, slugs: list[tuple[str, str]]) -> dict[str, Any]:
    load = Load(app, "flood", slugs[:1], address="203.0.113.7").start()
    time.sleep(LOAD_SECONDS)
    answers = load.stop()
    result = tally(app, "flood", answers)
    result["rate_per_s"] = round(len(answers) / LOAD_SECONDS, 1)
    (counted,) = app.sql(
        "SELECT count(*) FROM reports_report WHERE counted AND comment LIKE 'chaos flood-%%'"
    )[0]
    result["counted"] = counted
    result["recover_s"] = None
    return result


SPECIALS = [
    "\x00",
    "\ud800",
    "\udfff",
    "\x1b[31m",
    "\x07",
    "\x7f",
    "\u0085",
    "\u202e",
    "\u200f",
    "\ufeff",
    "\uffff",
    "\U0010ffff",
    "\r\n",
    "+2AA-",
    "%00",
    "'\"<>&;",
]
REPORT = {"service": "tiktok", "problem": "login", "country": "US"}


def malformed_corpus(token: str) -> Iterator[tuple[str, str, str, bytes | None, dict[str, str]]]:
    """(name, method, path, body, headers) of hostile requests; report bodies carry a marker
    in their comment, so whatever is stored can be found."""
    json_type = {"Content-Type": "application/json"}
    batch_headers = {**json_type, "Authorization": f"Token {token}"}
    n = 0

    def marker() -> str:
        nonlocal n
        n += 1
        return f"chaos malformed-{n}"

    for special in SPECIALS:
        for name in ("service", "problem", "country", "subdivision", "comment"):
            # The comment keeps its marker in front, so a stored one can be found.
            for where in ("end",) if name == "comment" else ("end", "alone"):
                for batch in (False, True):
                    body = {**REPORT, "comment": marker()}
                    body[name] = special if where == "alone" else body.get(name, "") + special
                    if batch:
                        item = {**body, "client_id": f"u{special}"}
                        raw = json.dumps({"reports": [item]}).encode()
                        path, headers = "/api/v1/reports/batch", batch_headers
                    else:
                        raw, path, headers = json.dumps(body).encode(), "/api/v1/reports", json_type
                    yield f"{path} {name} {special!r} {where}", "POST", path, raw, headers
        raw = json.dumps({**REPORT, "comment": marker(), special: "x"}).encode()
        yield f"report key {special!r}", "POST", "/api/v1/reports", raw, json_type
        for param in ("q", "category"):
            query = base64.urlsafe_b64encode(special.encode("utf-8", "surrogatepass")).decode()
            yield f"home {param} b64", "GET", f"/?{param}={query}", None, {}
        encoded = "".join(f"%{b:02X}" for b in special.encode("utf-8", "surrogatepass"))
        for path in (
            f"/api/v1/services?q={encoded}",
            f"/api/v1/heatmap?window={encoded}",
            f"/api/v1/services/tiktok/heatmap?window=1h&level=subdivision&country={encoded}",
            f"/api/v1/services/tiktok/trend?range={encoded}",
            f"/api/v1/outages?service={encoded}",
            f"/api/v1/regions/{encoded}/services",
            f"/{encoded}/",
            f"/?q={encoded}",
        ):
            yield f"GET {path}", "GET", path, None, {}
        for charset in ("utf-7", "utf-16", "latin-1", "bogus"):
            raw = json.dumps({**REPORT, "comment": marker() + special}).encode()
            headers = {"Content-Type": f"application/json; charset={charset}"}
            yield f"report charset {charset}", "POST", "/api/v1/reports", raw, headers
    for depth in (33, 1000, 5000):
        yield f"nested {depth}", "POST", "/api/v1/reports", b"[" * depth + b"]" * depth, json_type
        nested = b'{"reports": ' + b"[" * depth + b"]" * depth + b"}"
        yield f"batch nested {depth}", "POST", "/api/v1/reports/batch", nested, batch_headers
    for raw_value in (b"1" * 5000, b"1e999", b"-1e-999", b"NaN", b"Infinity", b'"ok\xffok"'):
        for name in ("service", "country", "comment"):
            template = json.dumps({**REPORT, "comment": marker(), name: "\x01"}).encode()
            raw = template.replace(b'"\\u0001"', raw_value)
            yield f"raw {name} {raw_value[:8]!r}", "POST", "/api/v1/reports", raw, json_type
    for bad in (b"\xff", b"\x80", b"\xc3", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xc0\x80"):
        raw = b'{"service": "tik' + bad + b'tok", "problem": "login", "country": "US"}'
        yield f"bad utf-8 {bad!r}", "POST", "/api/v1/reports", raw, json_type
    for cursor in (b"p=garbage", b"p=%00", b"p=9999-99-99", b"o=1&p=2000-01-01T00:00:00"):
        yield (
            f"cursor {cursor!r}",
            "GET",
            "/api/v1/outages?cursor=" + base64.urlsafe_b64encode(cursor).decode(),
            None,
            {},
        )
    for value in ("", "2026-12-01T14:05:00", "1999-01-01T00:00:00Z", "2999-01-01T00:00:00Z", 5):
        late: dict[str, Any] = {**REPORT, "comment": marker(), "observed_at": value}
        raw = json.dumps({"reports": [late]}).encode()
        yield f"observed_at {value!r}", "POST", "/api/v1/reports/batch", raw, batch_headers
    for path in ("/api/v1/services?q=", "/api/v1/heatmap?window=", "/?q=", "/?category="):
        yield f"empty {path}", "GET", path, None, {}
    yield "request line 6 KB", "GET", "/api/v1/services?q=" + "a" * 6000, None, {}
    yield "text/plain", "POST", "/api/v1/reports", json.dumps(REPORT).encode(), {}
    big = json.dumps({**REPORT, "comment": marker() + "x" * 20_000}).encode()
    yield "body over the cap", "POST", "/api/v1/reports", big, json_type
    yield (
        "form without CSRF",
        "POST",
        "/tiktok/report",
        b"problem=login&country=US",
        {"Content-Type": "application/x-www-form-urlencoded"},
    )


def send_chunked(port: int, body: bytes, address: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
    try:
        conn.putrequest("POST", "/api/v1/reports")
        for key, value in (
            ("Content-Type", "application/json"),
            ("Transfer-Encoding", "chunked"),
            ("X-Forwarded-For", address),
        ):
            conn.putheader(key, value)
        conn.endheaders()
        for i in range(0, len(body), 7):
            chunk = body[i : i + 7]
            conn.send(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        conn.send(b"0\r\n\r\n")
        response = conn.getresponse()
        response.read()
        return response.status
    except (OSError, http.client.HTTPException):
        return 0
    finally:
        conn.close()


def scenario_malformed(app: App, slugs: list[tuple[str, str]], token: str) -> dict[str, Any]:
    answers: list[Answer] = []
    server_errors: list[str] = []
    # Hostile-looking reports that are valid (a comment with a control or bidi character is
    # plain text, stored as sent and escaped wherever it is shown), per tampered field.
    accepted: Counter[str] = Counter()
    for i, (name, method, path, body, headers) in enumerate(malformed_corpus(token)):
        headers = {**headers, "X-Forwarded-For": f"172.16.{(i >> 8) & 255}.{i & 255}"}
        marker = ""
        if body:
            with suppress(ValueError, UnicodeDecodeError, RecursionError):
                found = json.loads(body)
                if isinstance(found, dict):
                    items = found.get("reports", [found])
                    marker = items[0].get("comment", "") if isinstance(items[0], dict) else ""
        sent = time.monotonic()
        status, _ = request(app.port, method, path, body, headers)
        marker = marker_of(marker) if isinstance(marker, str) else ""
        answers.append(Answer(marker, status, sent, time.monotonic()))
        if status >= 500 or status == 0:
            server_errors.append(f"{status} {name}")
        if method == "POST" and status == 201:
            accepted[name.split(" ")[1]] += 1
    # A valid report sent chunked, as the issue found it read as empty.
    good = json.dumps({**REPORT, "comment": "chaos malformed-chunked"}).encode()
    status = send_chunked(app.port, good, "172.31.0.1")
    answers.append(Answer("chaos malformed-chunked", status, time.monotonic(), time.monotonic()))
    result = tally(app, "malformed", answers)
    result["server_errors"] = server_errors[:20]
    result["accepted_by_field"] = dict(accepted)
    result["chunked_report"] = status
    result["recover_s"] = None
    return result


# Setup ---------------------------------------------------------------------------------------


@contextmanager
def own_app() -> Iterator[App]:
    bindir, redis_bin = postgres_bin(), redis_server_bin()
    if bindir is None or redis_bin is None:
        raise SystemExit("needs PostgreSQL's binaries (/usr/lib/postgresql) and redis-server")
    root = Path(tempfile.mkdtemp(prefix="outages-chaos-"))
    pg = OwnPostgres(bindir)
    redis_server = OwnRedis(redis_bin)
    app: App | None = None
    try:
        pg.start()
        pg.create_database(DATABASE)
        redis_server.start()
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("DATABASE_", "REDIS_", "CELERY_", "DJANGO_", "DEV_MODE"))
        }
        env.update(
            {
                "DATABASE_URL": f"postgres://root@127.0.0.1:{pg.port}/{DATABASE}",
                "REDIS_URL": redis_server.url,
                # Production settings, on plain HTTP behind a (pretend) proxy on loopback.
                "DEV_MODE": "false",
                "SECRET_KEY": secrets.token_urlsafe(50),
                "ALLOWED_HOSTS": "127.0.0.1,localhost",
                "SECURE_SSL_REDIRECT": "false",
                "TRUSTED_PROXY_COUNT": "1",
                "OUTAGES_VAR_DIR": str(root),
                # docker/start-worker.sh runs `celery` from PATH; its queues less "status",
                # whose tasks poll official status pages on the internet.
                "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
                "CELERY_QUEUES": "ingest,analytics,notify,celery",
                "CELERY_CONCURRENCY": "2",
                "PYTHONUNBUFFERED": "1",
                # The worker's log times are read back as UTC.
                "TZ": "UTC",
            }
        )
        app = App(root=root, pg=pg, redis=redis_server, port=free_port(), env=env)
        log(f"PostgreSQL on {pg.port}, Redis on {redis_server.port}, web on {app.port}: {root}")
        app.manage("migrate", "--noinput")
        app.manage("seed_services")
        # As the image is built: DEBUG off serves hashed names from the manifest.
        app.manage("collectstatic", "--noinput")
        for name in ("web", "worker", "beat"):
            app.start(name)
        up = wait_until(lambda: request(app.port, "GET", "/healthz")[0] == 200, deadline=60)
        if up is None:
            raise RuntimeError(f"gunicorn did not start; see {root / 'web.log'}")
        yield app
    finally:
        if app is not None:
            for name in list(app.procs):
                app.kill(name, signal.SIGTERM)
        redis_server.remove()
        pg.remove()
        if os.environ.get("CHAOS_KEEP_LOGS") != "1":
            import shutil

            shutil.rmtree(root, ignore_errors=True)
        else:
            log(f"logs kept in {root}")


def main() -> None:
    started = time.monotonic()
    with own_app() as app:
        slugs = [
            (slug, problems[0])
            for slug, problems in app.sql("SELECT slug, problems FROM outages_service ORDER BY id")
        ][:20]
        token = app.manage(
            "shell",
            "-c",
            "from django.contrib.auth.models import User; "
            "from rest_framework.authtoken.models import Token; "
            "u = User.objects.create_user('chaos-partner', password=None); "
            "print(Token.objects.create(user=u).key)",
        ).split()[-1]
        # The first detection pass, so readiness has something to date.
        wait_until(lambda: bool(ready(app.port).get("ok")), deadline=RECOVERY_DEADLINE)
        scenarios: dict[str, Callable[[], dict[str, Any]]] = {
            "baseline": lambda: scenario_baseline(app, slugs),
            "redis": lambda: scenario_redis(app, slugs),
            "postgres": lambda: scenario_postgres(app, slugs),
            "worker": lambda: scenario_worker(app, slugs),
            "flood": lambda: scenario_flood(app, slugs),
            "malformed": lambda: scenario_malformed(app, slugs, token),
        }
        chosen = [n for n in os.environ.get("CHAOS_SCENARIOS", ",".join(scenarios)).split(",") if n]
        results = {}
        for name in chosen:
            log(f"scenario {name}")
            results[name] = scenarios[name]()
            emit(results[name])
        recover = {n: r["recover_s"] for n, r in results.items() if n in RECOVERING}
        rollup = results.get("worker", {}).get("rollup", {}).get("exact")
        every = results.values()
        emit(
            {
                "summary": {
                    "scenarios": chosen,
                    "lost": sum(r["lost"] for r in every),
                    "duplicated": sum(r["duplicated"] for r in every),
                    "unplanned_5xx": sum(r["unplanned_5xx"] for r in every),
                    "recover_s": recover,
                    "rollup_exact": rollup,
                    "targets_met": (
                        sum(r["lost"] + r["duplicated"] + r["unplanned_5xx"] for r in every) == 0
                        and all(s is not None and s <= RECOVERY_TARGET for s in recover.values())
                        and rollup is not False
                    ),
                    "settings": {
                        "rate": RATE,
                        "clients": CLIENTS,
                        "load_s": LOAD_SECONDS,
                        "outage_s": OUTAGE_SECONDS,
                        "worker_down_s": WORKER_DOWN_SECONDS,
                    },
                    "seconds": round(time.monotonic() - started, 1),
                }
            }
        )


if __name__ == "__main__":
    main()

#!/usr/bin/env bash
# Runs the whole product on one machine: web (gunicorn), a Celery worker with embedded beat,
# demo history and a live trickle of simulated reports. SQLite and a filesystem broker by
# default; DATABASE_URL / REDIS_URL switch to PostgreSQL and Redis.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
BIN=$(dirname "$PY")
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8000}
# The development mode: plain HTTP on this machine, and a published key when SECRET_KEY is
# unset (config/settings.py refuses to start without a real one otherwise).
export DEV_MODE=${DEV_MODE:-true}
export DEMO_TRICKLE=${DEMO_TRICKLE:-true}
# Live outages to watch from start-up: YouTube reports rise up to 60x for two hours, and
# Cloudflare with two services that run on it for an hour (one wider problem, "likely
# Cloudflare"). DEMO_TRICKLE_BURST="" turns them off; "tiktok:BR:30:45" is a country-only one.
export DEMO_TRICKLE_BURST=${DEMO_TRICKLE_BURST-youtube:60:120,cloudflare:60:60,discord:30:60,x:30:60}
export OUTAGES_VAR_DIR=${OUTAGES_VAR_DIR:-$PWD/var}
mkdir -p "$OUTAGES_VAR_DIR/broker/queue" "$OUTAGES_VAR_DIR/broker/processed" "$OUTAGES_VAR_DIR/broker/control"

echo "== database: ${DATABASE_URL:-SQLite at $OUTAGES_VAR_DIR/outages.sqlite3}"
"$PY" manage.py migrate --noinput -v1
"$PY" manage.py seed_services
"$PY" manage.py collectstatic --noinput -v0
echo "== demo history (first run: 14 days; later runs fill the time since the last report)"
"$PY" manage.py seed_demo --top-up
echo "== rollups, baselines and past incidents"
"$PY" manage.py detect_history

pids=()
cleanup() {
    trap - EXIT INT TERM
    echo "== stopping"
    kill "${pids[@]}" 2>/dev/null || true
    wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

# One web process when abuse-control state is in-process (no Redis); threads serve concurrency.
if [ -n "${REDIS_URL:-}" ]; then workers=${WEB_CONCURRENCY:-2}; else workers=1; fi
"$BIN/gunicorn" config.wsgi:application --bind "$HOST:$PORT" --workers "$workers" \
    --threads 4 --access-logfile - --error-logfile - >"$OUTAGES_VAR_DIR/web.log" 2>&1 &
pids+=($!)
# Solo pool: one process keeps memory low and SQLite writes serialised. No mingle, as in
# docker/start-worker.sh (only a Redis broker would have it).
"$BIN/celery" -A config worker -B --pool=solo -Q celery,status --without-mingle --loglevel=INFO \
    --schedule="$OUTAGES_VAR_DIR/celerybeat-schedule" >"$OUTAGES_VAR_DIR/worker.log" 2>&1 &
pids+=($!)

for _ in $(seq 1 60); do
    if curl -fsS "http://$HOST:$PORT/healthz" >/dev/null 2>&1; then break; fi
    sleep 0.5
done
echo
echo "Outage Radar is running at http://$HOST:$PORT/"
echo "  logs: $OUTAGES_VAR_DIR/web.log, $OUTAGES_VAR_DIR/worker.log — Ctrl-C stops everything."
wait -n "${pids[@]}"
echo "== a process exited; see the logs above" >&2
exit 1

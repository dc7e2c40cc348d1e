#!/bin/sh
set -eu

# The image's source tree is read-only for the app user; only the var dir is writable.
exec celery -A config beat \
    --schedule "${CELERY_BEAT_SCHEDULE_FILE:-${OUTAGES_VAR_DIR:-/app/var}/celerybeat-schedule}" \
    --loglevel "${LOG_LEVEL:-INFO}"

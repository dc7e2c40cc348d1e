#!/bin/sh
set -eu

exec celery -A config worker \
    -Q "${CELERY_QUEUES:-ingest,analytics,notify,status,celery}" \
    --concurrency "${CELERY_CONCURRENCY:-2}" \
    --loglevel "${LOG_LEVEL:-INFO}"

#!/bin/sh
set -eu

# --without-mingle: at start a worker asks the others for their revoked task ids and waits a
# full second for answers; nothing here revokes tasks, and that second is a restarted
# worker's first detection pass later (bench/chaos.py measures from the process's start).
exec celery -A config worker \
    -Q "${CELERY_QUEUES:-ingest,analytics,notify,status,celery}" \
    --concurrency "${CELERY_CONCURRENCY:-2}" \
    --without-mingle \
    --loglevel "${LOG_LEVEL:-INFO}"

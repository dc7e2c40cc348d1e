#!/bin/sh
set -eu

# Several web replicas migrating at once would race; let all but one opt out.
if [ "${MIGRATE_ON_START:-1}" = "1" ]; then
    python manage.py migrate --noinput
    # The catalogue is defined in code; without it a fresh database shows no services.
    if [ "${SEED_SERVICES:-1}" = "1" ]; then
        python manage.py seed_services
    fi
fi

# /dev/shm keeps the worker heartbeat file off the overlay filesystem, where writes can stall.
exec gunicorn config.wsgi:application \
    --bind 0.0.0.0:8000 \
    --workers "${WEB_CONCURRENCY:-2}" \
    --threads "${WEB_THREADS:-4}" \
    --timeout "${WEB_TIMEOUT:-30}" \
    --worker-tmp-dir /dev/shm \
    --access-logfile - \
    --error-logfile -

#!/usr/bin/env bash
# Make sure PostgreSQL and Redis are up on localhost, installing them on a fresh Debian machine.
set -euo pipefail

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if ! command -v pg_ctlcluster >/dev/null 2>&1 || ! command -v redis-server >/dev/null 2>&1; then
    echo "== installing postgresql and redis-server"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql redis-server >/dev/null
fi

# Browser tests (tests/browser) drive Debian's Chromium through Playwright.
if [ ! -x /usr/bin/chromium ]; then
    echo "== installing chromium"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

# The browser tests' screenshots of the Japanese and Hindi pages need their glyphs (Noto CJK,
# Noto Devanagari); without them Chromium draws boxes.
if ! fc-list 2>/dev/null | grep -q "Noto Sans CJK" || ! fc-list 2>/dev/null | grep -q "Noto Sans Devanagari"; then
    echo "== installing fonts for Japanese and Hindi"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-cjk fonts-noto-core >/dev/null
fi

# tests/test_nginx.py checks docker/nginx's configuration with Debian's nginx.
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
    echo "== installing nginx"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null
fi

if ! pg_isready -q -h 127.0.0.1; then
    echo "== starting postgresql"
    as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n1)" main start
    for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 && break; sleep 1; done
fi
pg_isready -h 127.0.0.1
# The tests connect as the current user; a fresh cluster only has "postgres".
if ! psql -h 127.0.0.1 -U "${PGUSER:-$(id -un)}" -d postgres -tAc 'select 1' >/dev/null 2>&1; then
    as_root su postgres -c "psql -qc 'create role \"$(id -un)\" superuser login'" || true
fi

if ! redis-cli -h 127.0.0.1 ping >/dev/null 2>&1; then
    echo "== starting redis"
    as_root mkdir -p /var/lib/redis /var/log/redis
    as_root redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" \
        --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log
    for _ in $(seq 1 30); do redis-cli -h 127.0.0.1 ping >/dev/null 2>&1 && break; sleep 1; done
fi
echo "redis: $(redis-cli -h 127.0.0.1 ping)"

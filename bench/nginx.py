"""A local nginx from docker/nginx's template, rendered as the official image renders it
(envsubst of the NGINX_* variables; nginx's own $variables stay), inside a main configuration
that keeps every file in one directory: for the load test and tests/test_nginx.py."""

import os
import shutil
import socket
import string
import subprocess
import time
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parent.parent / "docker/nginx/outage-radar.conf.template"


def nginx_binary() -> str:
    """Debian's nginx, installed with apt-get when it is missing."""
    found = shutil.which("nginx")
    if found or Path("/usr/sbin/nginx").exists():
        return found or "/usr/sbin/nginx"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], env=env, check=True, timeout=300)
    install = ["apt-get", "install", "-y", "-qq", "nginx-light"]
    subprocess.run(install, env=env, check=True, timeout=300)
    return "/usr/sbin/nginx"


def nginx_configure(
    tmp: Path, *, upstream: str, port: int, workers: int = 1, connections: int = 256
) -> Path:
    """Render the template into `tmp` in front of `upstream`; returns the main configuration."""
    site = string.Template(TEMPLATE.read_text()).safe_substitute(
        NGINX_UPSTREAM=upstream,
        NGINX_PORT=str(port),
        NGINX_CACHE_DIR=str(tmp / "cache"),
        NGINX_MAX_BODY="9m",
    )
    (tmp / "site.conf").write_text(site)
    main = tmp / "nginx.conf"
    main.write_text(
        f"""
        daemon off;
        # As root, workers would run as nobody and could not reach this private directory.
        {"user root;" if os.geteuid() == 0 else ""}
        worker_processes {workers};
        pid {tmp}/nginx.pid;
        error_log {tmp}/error.log warn;
        events {{ worker_connections {connections}; }}
        http {{
            access_log off;
            client_body_temp_path {tmp}/client;
            proxy_temp_path {tmp}/proxy;
            include {tmp}/site.conf;
        }}
        """
    )
    return main


def nginx_start(binary: str, main: Path, port: int) -> subprocess.Popen[bytes]:
    """Run nginx with `main` and wait until it accepts connections on `port`."""
    server = subprocess.Popen(
        [binary, "-p", str(main.parent), "-c", str(main)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return server
        except OSError:
            time.sleep(0.05)
    server.kill()
    raise RuntimeError(f"nginx did not start (see {main.parent}/error.log)")

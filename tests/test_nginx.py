"""The front that compose puts before web: its configuration passes `nginx -t`, and in front
of the live app it keeps public pages (one request per page reaches the app), never keeps the
read API or a POST, and gzips."""

import gzip
import http.client
import json
import os
import shutil
import socket
import string
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "docker/nginx/outage-radar.conf.template"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"

pytestmark = pytest.mark.django_db(transaction=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def configure(tmp: Path, *, upstream: str, port: int) -> Path:
    """The template rendered as the official image renders it, inside a main configuration
    that keeps every file of this nginx in `tmp`."""
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
        worker_processes 1;
        pid {tmp}/nginx.pid;
        error_log {tmp}/error.log warn;
        events {{ worker_connections 256; }}
        http {{
            access_log off;
            client_body_temp_path {tmp}/client;
            proxy_temp_path {tmp}/proxy;
            include {tmp}/site.conf;
        }}
        """
    )
    return main


def test_the_configuration_passes_nginx_t(tmp_path):
    main = configure(tmp_path, upstream="127.0.0.1:8000", port=free_port())
    done = subprocess.run(
        [NGINX, "-t", "-p", str(tmp_path), "-c", str(main)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "syntax is ok" in done.stderr and "test is successful" in done.stderr


@pytest.fixture
def front(tmp_path, live_server) -> Iterator[int]:
    port = free_port()
    upstream = live_server.url.removeprefix("http://")
    main = configure(tmp_path, upstream=upstream, port=port)
    server = subprocess.Popen(
        [NGINX, "-p", str(tmp_path), "-c", str(main)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.05)
        yield port
    finally:
        server.terminate()
        server.wait(timeout=10)


def call(port, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    finally:
        conn.close()


def test_public_pages_are_kept_and_the_api_and_posts_are_not(front, data, settings):
    status, headers, first = call(front, "GET", "/tiktok/")
    assert status == 200 and headers["X-Cache"] == "MISS"
    status, headers, again = call(front, "GET", "/tiktok/")
    assert status == 200 and headers["X-Cache"] == "HIT" and again == first

    for _ in range(2):
        status, headers, _ = call(front, "GET", "/api/v1/services/tiktok")
        assert status == 200 and headers["X-Cache"] != "HIT"

    settings.RATE_LIMIT_REPORTS = 100
    report = json.dumps({"service": "tiktok", "problem": "upload", "country": "BR"}).encode()
    codes = []
    for i in range(2):
        status, headers, _ = call(
            front,
            "POST",
            "/api/v1/reports",
            body=report,
            headers={"Content-Type": "application/json", "X-Forwarded-For": f"203.0.113.{i}"},
        )
        codes.append(status)
        assert headers.get("X-Cache") != "HIT"
    # Both reached the app: the first is counted, the second is the same client's repeat.
    assert codes[0] == 201 and codes[1] in (200, 201)


def test_pages_are_gzipped(front, data):
    status, headers, body = call(front, "GET", "/tiktok/", headers={"Accept-Encoding": "gzip"})
    assert status == 200 and headers.get("Content-Encoding") == "gzip"
    assert b"TikTok" in gzip.decompress(body)

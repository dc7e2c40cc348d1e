"""Secure by default: production (no DEV_MODE) needs only SECRET_KEY and ALLOWED_HOSTS to
pass Django's deployment checks, refuses to start without a real key, sends a strict
Content-Security-Policy, and pauses an address that keeps guessing admin passwords."""

import os
import secrets
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.contrib.auth.models import User

ROOT = Path(__file__).resolve().parents[2]
# An environment with nothing of the test run's in it (no DEV_MODE, no database settings).
BARE = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}


def run(command: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command,
        cwd=ROOT,
        env={**BARE, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_check_deploy_is_clean_with_only_a_secret_key_and_allowed_hosts():
    done = run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="radar.example.org",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "System check identified no issues" in done.stdout, done.stdout + done.stderr


@pytest.mark.parametrize(
    "command",
    [
        [sys.executable, "manage.py", "check"],
        # What docker/start-web.sh and `make run` start: gunicorn loading the WSGI app.
        [str(Path(sys.executable).with_name("gunicorn")), "--check-config", "config.wsgi"],
    ],
    ids=["manage.py", "gunicorn"],
)
def test_production_does_not_start_without_a_secret_key(command):
    done = run(command, ALLOWED_HOSTS="radar.example.org")
    assert done.returncode != 0
    assert "SECRET_KEY must be set" in done.stderr, done.stderr
    # The published development key is no key either.
    done = run(command, SECRET_KEY="insecure-dev-key-change-me", ALLOWED_HOSTS="x")
    assert done.returncode != 0 and "SECRET_KEY must be set" in done.stderr
    # The development mode, as `make run` and the tests set it, runs on that key.
    done = run(command, DEV_MODE="true")
    assert done.returncode == 0, done.stderr


def test_https_settings_are_on_in_production_and_each_can_be_switched_off():
    script = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, s.SESSION_COOKIE_SECURE, "
        "s.CSRF_COOKIE_SECURE, s.SECURE_PROXY_SSL_HEADER, s.DEBUG)"
    )
    key = secrets.token_urlsafe(50)
    done = run([sys.executable, "-c", script], SECRET_KEY=key)
    assert done.stdout.split() == ["True", "31536000", "True", "True", "None", "False"], done
    done = run(
        [sys.executable, "-c", script],
        SECRET_KEY=key,
        SECURE_SSL_REDIRECT="false",
        SECURE_HSTS_SECONDS="0",
        SESSION_COOKIE_SECURE="false",
        CSRF_COOKIE_SECURE="false",
        SECURE_PROXY_SSL_HEADER="HTTP_X_FORWARDED_PROTO,https",
    )
    assert done.stdout.strip() == (
        "False 0 False False ('HTTP_X_FORWARDED_PROTO', 'https') False"
    ), done.stderr
    done = run([sys.executable, "-c", script], DEV_MODE="true")
    assert done.stdout.split()[:4] == ["False", "0", "False", "False"], done.stderr


def test_production_answers_only_to_the_host_names_it_is_given():
    script = (
        "import django; django.setup(); from django.conf import settings; "
        "from django.test import Client; c = Client(); print(','.join(settings.ALLOWED_HOSTS)); "
        "print(*(c.get('/healthz', HTTP_HOST=h).status_code "
        "for h in ('127.0.0.1:8000', 'radar.example.org', 'evil.example')))"
    )
    key = secrets.token_urlsafe(50)
    # Unset, production answers to the machine itself (a health check), and to no other name.
    done = run([sys.executable, "-c", script], SECRET_KEY=key)
    assert done.stdout.split() == ["localhost,127.0.0.1,[::1]", "200", "400", "400"], done.stderr
    done = run([sys.executable, "-c", script], SECRET_KEY=key, ALLOWED_HOSTS="radar.example.org")
    assert done.stdout.split() == ["radar.example.org", "400", "200", "400"], done.stderr
    # The development mode, on one machine, answers to any name.
    done = run([sys.executable, "-c", script], DEV_MODE="true")
    assert done.stdout.split() == ["*", "200", "200", "200"], done.stderr


def test_the_admin_path_comes_from_the_environment():
    script = (
        "import django; django.setup(); from django.urls import reverse; "
        "print(reverse('admin:login'))"
    )
    done = run([sys.executable, "-c", script], DEV_MODE="true", ADMIN_PATH="/ops-7f3a/")
    assert done.stdout.strip() == "/ops-7f3a/login/", done.stderr
    done = run([sys.executable, "-c", script], DEV_MODE="true")
    assert done.stdout.strip() == "/admin/login/", done.stderr


class ScriptsAndStyles(HTMLParser):
    """Everything a strict policy would refuse: inline scripts, event-handler attributes,
    javascript: links and style attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict[str, str | None]] = []
        self.inline: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "script":
            self.scripts.append(found)
            self._in_script = True
        for name, value in attrs:
            if name.startswith("on") or name == "style":
                self.inline.append(f"<{tag} {name}=...>")
            if name in ("href", "src", "action") and (value or "").startswith("javascript:"):
                self.inline.append(f"<{tag} {name}={value}>")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline.append(f"<script>{data.strip()[:60]}</script>")


PAGES = [
    "/",
    "/tiktok/",
    "/map/",
    "/region/BR/",
    "/tiktok/report",
    "/no-such-service/",
    "/admin/login/",
    "/api/v1/docs",
    "/api/v1/docs/services",
    "/api/v1/swagger",
    "/tiktok/alerts/",
    "/tiktok/alerts/sent/",
    "/offline/",
]


@pytest.mark.django_db
@pytest.mark.parametrize("path", PAGES)
def test_every_page_has_a_strict_policy_and_no_inline_script(client, data, path):
    r = client.get(path)
    assert r.status_code in (200, 404), (path, r.status_code)
    policy = dict(
        (d.strip().split(" ", 1) + [""])[:2] for d in r["Content-Security-Policy"].split(";")
    )
    assert policy["default-src"] == "'self'"
    assert policy["script-src"] == "'self'"
    assert policy["object-src"] == "'none'" and policy["frame-ancestors"] == "'none'"
    assert (
        "unsafe-inline" not in policy["script-src"]
        and "unsafe-eval" not in r["Content-Security-Policy"]
    )
    page = ScriptsAndStyles()
    page.feed(r.content.decode())
    assert page.inline == [], (path, page.inline)
    assert all(s.get("src") for s in page.scripts), (path, page.scripts)


@pytest.mark.django_db
def test_the_api_and_health_answers_carry_the_policy_too(api, data):
    for path in ("/api/v1/services", "/healthz"):
        assert "default-src 'self'" in api.get(path)["Content-Security-Policy"], path


@pytest.mark.django_db
def test_the_admin_login_pauses_an_address_after_repeated_failures(client, settings):
    User.objects.create_superuser("ops", password="the-right-password-42")
    limit = settings.AXES_FAILURE_LIMIT
    attacker = {"REMOTE_ADDR": "203.0.113.9"}
    for _ in range(limit - 1):
        r = client.post("/admin/login/", {"username": "ops", "password": "wrong"}, **attacker)
        assert r.status_code == 200  # the form again, with its error
    r = client.post("/admin/login/", {"username": "ops", "password": "wrong"}, **attacker)
    assert r.status_code == 429
    # From that address, not even the right password gets in now.
    r = client.post(
        "/admin/login/", {"username": "ops", "password": "the-right-password-42"}, **attacker
    )
    assert r.status_code == 429
    assert "_auth_user_id" not in client.session
    # Nor does naming another address: no proxy is trusted by default.
    r = client.post(
        "/admin/login/",
        {"username": "ops", "password": "the-right-password-42"},
        HTTP_X_FORWARDED_FOR="192.0.2.1",
        **attacker,
    )
    assert r.status_code == 429
    # Another address is not locked out by the first one's guesses.
    r = client.post(
        "/admin/login/",
        {"username": "ops", "password": "the-right-password-42"},
        REMOTE_ADDR="198.51.100.7",
    )
    assert r.status_code == 302 and client.session["_auth_user_id"]

"""docker/compose.yaml: web is reached through nginx alone, so that the one proxy hop web
trusts (TRUSTED_PROXY_COUNT=1) is always nginx's; published directly, any client could write
its own X-Forwarded-For. And nothing starts on a published key."""

from pathlib import Path

import yaml

DOCKER = Path(__file__).resolve().parent.parent / "docker"


def compose() -> dict:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text())


def test_only_nginx_is_published_and_web_trusts_exactly_it():
    services = compose()["services"]
    assert {name for name, s in services.items() if s.get("ports")} == {"nginx"}
    web = services["web"]
    assert "ports" not in web and web["expose"] == ["8000"]
    assert web["environment"]["TRUSTED_PROXY_COUNT"] == "${TRUSTED_PROXY_COUNT:-1}"
    assert services["nginx"]["environment"]["NGINX_UPSTREAM"] == "web:8000"
    template = (DOCKER / "nginx" / "outage-radar.conf.template").read_text()
    # nginx adds the address it saw last, and sets the scheme itself: what web believes.
    assert "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;" in template
    assert "proxy_set_header X-Forwarded-Proto $scheme;" in template
    assert web["environment"]["SECURE_PROXY_SSL_HEADER"].endswith("HTTP_X_FORWARDED_PROTO,https}")


def test_the_app_gets_no_default_secret_key():
    for name in ("web", "worker", "beat"):
        key = compose()["services"][name]["environment"]["SECRET_KEY"]
        assert key.startswith("${SECRET_KEY:?"), (name, key)


def test_the_site_answers_to_its_own_names_and_the_health_check():
    for name in ("web", "worker", "beat"):
        hosts = compose()["services"][name]["environment"]["ALLOWED_HOSTS"]
        # Not "*": a name to set (localhost for a trial), and loopback for web's health check.
        assert hosts == "${ALLOWED_HOSTS:-localhost},127.0.0.1", (name, hosts)
    check = " ".join(compose()["services"]["web"]["healthcheck"]["test"])
    assert "http://127.0.0.1:8000/healthz" in check

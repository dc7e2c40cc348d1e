"""When detection has stopped (a worker or broker down), the levels on show are old: the pages
say how old instead of showing them, and the API's status payloads carry delayed_since."""

from datetime import datetime, timedelta

import pytest
from django.core.cache import cache
from django.test import override_settings
from django.utils import timezone

from common.cache import DETECTION_PASS_KEY, detection_pass_mark
from outages.models import ServiceStatus
from tests.test_failure_modes import DEAD_REDIS
from web.caching import page_memo_forget

pytestmark = pytest.mark.django_db


def parsed(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def api_payloads(api) -> list[dict]:
    """Every status payload of the read API: list items, the detail, a region's services."""
    listed = api.get("/api/v1/services").json()["services"]
    detail = api.get("/api/v1/services/tiktok").json()
    region = api.get("/api/v1/regions/BR/services?window=1h").json()["services"]
    assert listed and region
    return [*listed, detail, *region]


def test_fresh_data_shows_levels_and_delayed_since_is_null(client, api, data):
    detection_pass_mark(at=timezone.now() - timedelta(seconds=30))
    home = client.get("/").content.decode()
    assert "Data delayed" not in home
    assert "level-outage" in home and "level-ok" in home
    page = client.get("/tiktok/").content.decode()
    assert "User reports indicate problems at TikTok since" in page
    for payload in api_payloads(api):
        assert "delayed_since" in payload and payload["delayed_since"] is None, payload
    assert api.get("/api/v1/services/tiktok").json()["headline"].startswith("User reports")


def test_after_two_minutes_without_a_pass_pages_say_data_delayed_instead_of_a_level(
    client, api, data
):
    last = timezone.now() - timedelta(minutes=5)
    detection_pass_mark(at=last)
    for path in ("/", "/tiktok/", "/gmail/", "/map/", "/region/BR/"):
        body = client.get(path).content.decode()
        # "since 14:05 UTC", or "since 3 Mar 23:58 UTC" from the day before.
        assert "Data delayed since" in body and f"{last:%H:%M} UTC" in body, path
        # Neither good news nor bad: no level at all.
        for level in ("level-ok", "level-possible", "level-outage"):
            assert f"level {level}" not in body, (path, level)
        assert "No service has unusual reports" not in body, path
        assert "No current problems" not in body and "User reports indicate" not in body, path
    for payload in api_payloads(api):
        assert abs(parsed(payload["delayed_since"]) - last) < timedelta(seconds=1), payload
    detail = api.get("/api/v1/services/gmail").json()
    assert detail["headline"].startswith("Data delayed since")
    assert detail["level"] == "ok"  # the schema is unchanged: the level is still there


def test_without_a_mark_in_the_cache_the_statuses_own_time_decides(client, api, data):
    # A cache of its own per process (the embedded default) or a flushed Redis: no mark.
    assert cache.get(DETECTION_PASS_KEY) is None
    assert api.get("/api/v1/services/tiktok").json()["delayed_since"] is None
    cache.clear()
    page_memo_forget()
    written = timezone.now() - timedelta(minutes=10)
    ServiceStatus.objects.update(updated_at=written)
    body = api.get("/api/v1/services/tiktok").json()
    assert abs(parsed(body["delayed_since"]) - written) < timedelta(seconds=1)
    assert "Data delayed since" in client.get("/").content.decode()


def test_readiness_fails_on_an_old_pass_and_names_it(client, data):
    detection_pass_mark(at=timezone.now() - timedelta(minutes=5))
    r = client.get("/healthz/ready")
    assert r.status_code == 503
    body = r.json()
    assert body["failed"] == ["detection"]
    assert body["checks"]["detection"]["ok"] is False
    assert body["checks"]["detection"]["age_seconds"] >= 299
    detection_pass_mark(at=timezone.now())
    r = client.get("/healthz/ready")
    assert r.status_code == 200 and r.json()["failed"] == []


def test_readiness_names_a_cache_that_does_not_answer(client, data):
    with override_settings(CACHES=DEAD_REDIS):
        r = client.get("/healthz/ready")
    assert r.status_code == 503
    # The statuses written a moment ago (the fixture) still date the last pass.
    assert r.json()["failed"] == ["cache"]
    assert r.json()["checks"]["detection"]["ok"] is True


def test_readiness_fails_before_the_first_detection_pass(client, tiktok):
    r = client.get("/healthz/ready")
    assert r.status_code == 503
    assert r.json()["failed"] == ["detection"]
    assert r.json()["checks"]["detection"]["error"] == "no detection pass recorded"

"""The shared API plumbing: ETags and 304s, throttles per IP and per token, token errors."""

import pytest

from analytics.models import MinuteCount

pytestmark = pytest.mark.django_db


def test_reads_carry_etag_and_answer_304(api, data):
    r = api.get("/api/v1/services/tiktok/problems?window=1h")
    assert r["Cache-Control"] == "public, no-cache" and r["ETag"]
    again = api.get("/api/v1/services/tiktok/problems?window=1h", HTTP_IF_NONE_MATCH=r["ETag"])
    assert again.status_code == 304 and again["ETag"] == r["ETag"]
    MinuteCount.objects.filter(problem="login").update(count=5)
    api.get("/api/v1/services/tiktok/problems?window=1h")  # cached for the minute
    other = api.get("/api/v1/services/tiktok/problems?window=15m", HTTP_IF_NONE_MATCH=r["ETag"])
    assert other.status_code == 200


def test_anonymous_reads_are_throttled_with_retry_after(api, data, settings):
    settings.API_THROTTLE_ANON = "3/minute"
    codes = [api.get("/api/v1/heatmap").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    r = api.get("/api/v1/heatmap")
    assert r.json()["error"] == "throttled" and 0 < int(r["Retry-After"]) <= 60


def test_token_holders_get_their_own_higher_limit(api, token_api, data, settings):
    settings.API_THROTTLE_ANON = "1/minute"
    settings.API_THROTTLE_TOKEN = "5/minute"
    assert api.get("/api/v1/heatmap").status_code == 200
    assert api.get("/api/v1/heatmap").status_code == 429
    assert [token_api.get("/api/v1/heatmap").status_code for _ in range(5)] == [200] * 5
    assert token_api.get("/api/v1/heatmap").status_code == 429


def test_report_intake_is_not_read_throttled(api, data, settings):
    settings.API_THROTTLE_ANON = "1/minute"
    for country in ("US", "BR"):
        r = api.post(
            "/api/v1/reports",
            {"service": "gmail", "problem": "login", "country": country},
            format="json",
            REMOTE_ADDR=f"10.0.0.{len(country)}",
        )
        assert r.status_code in (200, 201)


def test_a_bad_token_is_401(api, data):
    api.credentials(HTTP_AUTHORIZATION="Token nope")
    r = api.get("/api/v1/services")
    assert r.status_code == 401 and r.json()["error"] == "authentication_failed"

"""The shared API plumbing: ETags and 304s, throttles per IP and per token, token errors."""

import pytest

from analytics.models import MinuteCount
from common.api import error_body

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


@pytest.mark.parametrize(
    ("path", "parameter"),
    [
        ("/api/v1/heatmap?window=", "window"),
        ("/api/v1/services?q=", "q"),
        ("/api/v1/services?category=&level=ok", "category"),
        ("/api/v1/services/tiktok/trend?country=", "country"),
        ("/api/v1/services/tiktok/trend?range=", "range"),
        ("/api/v1/services/tiktok/heatmap?country=&level=country", "country"),
        ("/api/v1/services/tiktok/problems?window=1h&window=", "window"),
        ("/api/v1/outages?cursor=", "cursor"),
        ("/api/v1/outages?until=", "until"),
        ("/api/v1/outages?limit=", "limit"),
        ("/api/v1/regions/US/services?window=", "window"),
        ("/api/v1/services?format=", "format"),
    ],
)
def test_an_empty_parameter_is_refused_naming_it(api, data, path, parameter):
    # The schema admits no empty value (an enum, a date-time, a pattern); DRF would read one as
    # an absent parameter and quietly serve the default.
    r = api.get(path)
    assert r.status_code == 400, r.content
    assert r.json()["error"] == "invalid"
    assert r.json()["fields"][parameter] == [
        "Must not be empty: leave the parameter out for its default."
    ]


# Django decodes a query string with the charset named in the request's Content-Type: with
# UTF-7, "%2B2AA-" is a lone surrogate, which no UTF-8 response or cache key can hold.
UTF7 = {"content-type": "text/plain; charset=utf-7"}


@pytest.mark.parametrize(
    ("path", "parameter", "message"),
    [
        (
            "/api/v1/heatmap?window=%2B2AA-",
            "window",
            "Surrogate characters are not allowed: U+D800.",
        ),
        ("/api/v1/services?q=%2B2AA-", "q", "Surrogate characters are not allowed: U+D800."),
        (
            "/api/v1/outages?service=%2B2AA-",
            "service",
            "Surrogate characters are not allowed: U+D800.",
        ),
        ("/api/v1/services?utm=%2B2AA-", "utm", "Surrogate characters are not allowed: U+D800."),
        ("/api/v1/services?%2B2AA-=1", "\\ud800", "Surrogate characters are not allowed: U+D800."),
        ("/api/v1/services?q=a%00b", "q", "Null characters are not allowed."),
        (
            "/api/v1/services/tiktok/trend?problem=%00",
            "problem",
            "Null characters are not allowed.",
        ),
        ("/api/v1/outages?cursor=%00", "cursor", "Null characters are not allowed."),
    ],
)
def test_a_parameter_that_cannot_be_echoed_is_refused_naming_it(
    client, data, path, parameter, message
):
    r = client.get(path, headers=UTF7)
    assert r.status_code == 400, r.content
    assert r.json()["fields"] == {parameter: [message]}


def test_the_error_shape_spells_out_what_it_cannot_encode():
    body = error_body(code="invalid", message="bad \ud800", fields={"\udfffx": ["'\ud800' no"]})
    assert body == {
        "error": "invalid",
        "message": "bad \\ud800",
        "fields": {"\\udfffx": ["'\\ud800' no"]},
    }

import json

import pytest
from django.test import override_settings

from reports.models import Report, Source

pytestmark = pytest.mark.django_db

URL = "/api/v1/reports"


def post(api, body, **extra):
    return api.post(URL, data=json.dumps(body), content_type="application/json", **extra)


def test_it_stores_a_report_and_returns_it(api, tiktok):
    r = post(
        api,
        {
            "service": "tiktok",
            "problem": "upload",
            "country": "br",
            "subdivision": "BR-SP",
            "comment": "videos stuck at 99%",
        },
    )
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["service"] == "tiktok"
    assert body["problem"] == "upload"
    assert body["country"] == "BR"
    assert body["country_name"] == "Brazil"
    assert body["subdivision"] == "BR-SP"
    assert body["subdivision_name"] == "São Paulo"
    assert body["source"] == "api"
    assert body["created_at"].endswith("Z")
    report = Report.objects.get(id=body["id"])
    assert report.source == Source.API
    assert report.created_at.tzinfo is not None
    assert "127.0.0.1" not in report.client_key
    assert len(report.client_key) == 32


def test_it_accepts_a_subdivision_without_country_prefix(api, tiktok):
    r = post(api, {"service": "tiktok", "problem": "login", "country": "US", "subdivision": "ca"})
    assert r.status_code == 201, r.content
    assert r.json()["subdivision"] == "US-CA"


def test_it_counts_one_report_per_client_per_service(api, tiktok, gmail):
    first = post(api, {"service": "tiktok", "problem": "login", "country": "US"})
    again = post(api, {"service": "tiktok", "problem": "upload", "country": "US"})
    other_service = post(api, {"service": "gmail", "problem": "email", "country": "US"})
    other_client = post(
        api, {"service": "tiktok", "problem": "login", "country": "US"}, REMOTE_ADDR="10.0.0.9"
    )
    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json()["counted"] is False
    assert "Already counted" in again.json()["detail"]
    assert other_service.status_code == 201
    assert other_client.status_code == 201
    assert Report.objects.filter(service=tiktok).count() == 2


@override_settings(REPORT_DEDUPE_WINDOW=1)
def test_dedupe_window_is_configurable(api, tiktok):
    import time

    assert post(api, {"service": "tiktok", "problem": "login", "country": "US"}).status_code == 201
    time.sleep(1.2)
    assert post(api, {"service": "tiktok", "problem": "login", "country": "US"}).status_code == 201


@override_settings(RATE_LIMIT_REPORTS=3, REPORT_DEDUPE_WINDOW=900)
def test_it_rate_limits_per_ip_with_retry_after(api, tiktok, gmail):
    codes = []
    for i in range(3):
        codes.append(
            post(
                api,
                {"service": "tiktok", "problem": "login", "country": "US"},
                HTTP_X_FORWARDED_FOR=f"10.1.1.{i}",  # not trusted: same REMOTE_ADDR
            ).status_code
        )
    limited = post(api, {"service": "gmail", "problem": "email", "country": "US"})
    assert codes == [201, 200, 200]
    assert limited.status_code == 429
    assert 1 <= int(limited["Retry-After"]) <= 61
    assert limited.json()["error"] == "throttled"
    other_ip = post(
        api, {"service": "gmail", "problem": "email", "country": "US"}, REMOTE_ADDR="10.0.0.2"
    )
    assert other_ip.status_code == 201


@override_settings(RATE_LIMIT_REPORTS=2, TRUSTED_PROXY_COUNT=1)
def test_it_uses_the_forwarded_ip_behind_a_trusted_proxy(api, tiktok):
    for i in range(3):
        r = post(
            api,
            {"service": "tiktok", "problem": "login", "country": "US"},
            HTTP_X_FORWARDED_FOR=f"203.0.113.{i}",
        )
        assert r.status_code == 201


BAD_INPUTS = [
    ({"service": "myspace", "problem": "login", "country": "US"}, 400, "service"),
    ({"problem": "login", "country": "US"}, 400, "service"),
    ({"service": "tiktok", "problem": "payments", "country": "US"}, 400, "problem"),
    ({"service": "tiktok", "problem": "login", "country": "XX"}, 400, "country"),
    ({"service": "tiktok", "problem": "login", "country": "USA"}, 400, "country"),
    ({"service": "tiktok", "problem": "login"}, 400, "country"),
    (
        {"service": "tiktok", "problem": "login", "country": "US", "subdivision": "US-ZZ"},
        400,
        "subdivision",
    ),
    (
        {"service": "tiktok", "problem": "login", "country": "US", "subdivision": "FR-75C"},
        400,
        "subdivision",
    ),
    (
        {"service": "tiktok", "problem": "login", "country": "US", "comment": "x" * 281},
        400,
        "comment",
    ),
    (
        {"service": "tiktok", "problem": "login", "country": "US", "comment": "a\x00b"},
        400,
        "comment",
    ),
    ({"service": "tiktok", "problem": 7, "country": "US"}, 400, "problem"),
    (
        {"service": "tiktok", "problem": "login", "country": "US", "subdivison": "US-CA"},
        400,
        "subdivison",
    ),
]


@pytest.mark.parametrize(("body", "status", "field"), BAD_INPUTS)
def test_it_rejects_bad_input_naming_the_field(api, tiktok, body, status, field):
    r = post(api, body)
    assert r.status_code == status, r.content
    payload = r.json()
    assert payload["error"] == "invalid"
    assert field in payload["fields"], payload
    assert payload["fields"][field][0]
    assert Report.objects.count() == 0


def test_it_explains_which_problems_a_service_offers(api, tiktok):
    r = post(api, {"service": "tiktok", "problem": "payments", "country": "US"})
    assert "playback, upload, login, app, other" in r.json()["fields"]["problem"][0]


def test_it_rejects_malformed_json(api, tiktok):
    r = api.post(URL, data='{"service": "tiktok",', content_type="application/json")
    assert r.status_code == 400
    assert r.json()["error"] == "malformed_body"
    assert "body" in r.json()["fields"]
    assert Report.objects.count() == 0


def test_it_rejects_a_json_array(api, tiktok):
    r = api.post(URL, data="[1, 2]", content_type="application/json")
    assert r.status_code == 400
    assert "non_field_errors" in r.json()["fields"]


def test_it_rejects_the_wrong_content_type(api, tiktok):
    r = api.post(
        URL,
        data="service=tiktok&problem=login&country=US",
        content_type="application/x-www-form-urlencoded",
    )
    assert r.status_code == 415
    assert "Content-Type" in r.json()["fields"]
    assert Report.objects.count() == 0


def test_it_rejects_an_oversized_body(api, tiktok):
    body = json.dumps(
        {"service": "tiktok", "problem": "login", "country": "US", "comment": "x" * 20000}
    )
    r = api.post(URL, data=body, content_type="application/json")
    assert r.status_code == 413
    assert r.json()["error"] == "too_large"
    assert "body" in r.json()["fields"]
    assert Report.objects.count() == 0


def test_get_is_not_allowed(api, tiktok):
    r = api.get(URL)
    assert r.status_code == 405
    assert r.json()["error"] == "method_not_allowed"


# What a client can send but neither PostgreSQL nor a UTF-8 response can hold: a lone
# surrogate (json.dumps writes it as the escape "\ud800", as any client would) and NUL.
UNSTORABLE = [
    ("\ud800", "Surrogate characters are not allowed: U+D800."),
    ("tik\x00tok", "Null characters are not allowed."),
]


@pytest.mark.parametrize("field", ["service", "problem", "country", "subdivision", "comment"])
@pytest.mark.parametrize(("text", "message"), UNSTORABLE)
def test_it_refuses_text_it_cannot_store_naming_the_field(api, tiktok, field, text, message):
    r = post(api, {"service": "tiktok", "problem": "login", "country": "US", field: text})
    assert r.status_code == 400, r.content
    assert r.json()["error"] == "invalid"
    assert r.json()["fields"][field] == [message]
    assert Report.objects.count() == 0


def test_it_names_an_unknown_field_whose_name_is_a_lone_surrogate(api, tiktok):
    r = post(api, {"service": "tiktok", "problem": "login", "country": "US", "\ud800x": 1})
    assert r.status_code == 400, r.content
    assert r.json()["fields"] == {"\\ud800x": ["Unknown field."]}


def nested(depth):
    value: object = "x"
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    "body",
    [
        "[" * 5000,
        '{"service": ' + "[" * 4000 + "]" * 4000 + "}",
        # Well under the interpreter's recursion limit, over the parser's own bound.
        json.dumps(
            {"service": "tiktok", "problem": "login", "country": "US", "comment": nested(40)}
        ),
    ],
    ids=["unclosed", "closed", "moderate"],
)
def test_it_refuses_json_nested_too_deeply(api, tiktok, body):
    r = api.post(URL, data=body, content_type="application/json")
    assert r.status_code == 400, r.content
    assert r.json()["error"] == "malformed_body"
    assert r.json()["fields"]["body"] == ["JSON nested too deeply: at most 32 levels."]
    assert Report.objects.count() == 0


def test_nesting_within_the_bound_reaches_validation(api, tiktok):
    body = {"service": "tiktok", "problem": "login", "country": "US", "comment": nested(31)}
    r = post(api, body)
    assert r.status_code == 400
    assert r.json()["fields"] == {"comment": ["Must be a string."]}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("service", " tiktok"),
        ("country", "US "),
        ("subdivision", "\tCA"),
        ("comment", "x" * 280 + " "),
    ],
)
def test_it_takes_values_exactly_as_the_schema_admits_them(api, tiktok, field, value):
    # The schema's patterns and maxLength admit no padding, so the API does not trim it away.
    r = post(api, {"service": "tiktok", "problem": "login", "country": "US", field: value})
    assert r.status_code == 400, r.content
    assert field in r.json()["fields"]

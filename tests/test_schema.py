"""The OpenAPI contract: it is served, and the live API keeps it. Schemathesis generates
requests from the schema (valid and invalid) for every operation and checks each response:
no server errors, a documented status code and content type, a body matching its schema; a
request the schema forbids is refused, and one it admits is refused only for a rule the
schema cannot state (an unknown service, a problem that service does not offer)."""

import re

import pytest
import schemathesis
from django.contrib.auth.models import User
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis.errors import Unsatisfiable
from rest_framework.authtoken.models import Token
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.config import SchemathesisConfig

from config.wsgi import application
from tests import pagedata

pytestmark = pytest.mark.django_db


def test_schema_is_served_and_documents_every_endpoint(api):
    r = api.get("/api/v1/schema?format=json")
    assert r.status_code == 200
    paths = r.json()["paths"]
    assert {
        "/api/v1/services",
        "/api/v1/services/{slug}",
        "/api/v1/services/{slug}/trend",
        "/api/v1/services/{slug}/heatmap",
        "/api/v1/services/{slug}/problems",
        "/api/v1/heatmap",
        "/api/v1/outages",
        "/api/v1/outages/{outage_id}",
        "/api/v1/outages/open",
        "/api/v1/regions/{country}/services",
        "/api/v1/subscriptions",
        "/api/v1/subscriptions/{subscription_id}",
        "/api/v1/subscriptions/{subscription_id}/deliveries",
        "/api/v1/reports",
        "/api/v1/reports/batch",
        "/api/v1/recoveries",
    } <= set(paths)
    trend = paths["/api/v1/services/{slug}/trend"]["get"]
    assert {p["name"] for p in trend["parameters"]} >= {
        "from",
        "to",
        "bucket",
        "country",
        "problem",
        "format",
    }
    assert "max(2 × expected, expected + 5)" in r.content.decode()


def test_request_bodies_are_closed_and_name_their_choices(api):
    schema = api.get("/api/v1/schema?format=json").json()
    components = schema["components"]["schemas"]
    bodies = {
        content["schema"]["$ref"].rsplit("/", 1)[1]
        for methods in schema["paths"].values()
        for operation in methods.values()
        for content in operation.get("requestBody", {}).get("content", {}).values()
    }
    assert bodies == {
        "ReportInputRequest",
        "BatchInputRequest",
        "RecoveryInputRequest",
        "SubscriptionInputRequest",
        "PatchedSubscriptionUpdateRequest",
        "PushSubscribeInputRequest",
        "PushUnsubscribeInputRequest",
    }
    for name in [*bodies, "BatchItemRequest"]:
        assert components[name]["additionalProperties"] is False, name
    report = components["ReportInputRequest"]["properties"]
    assert report["problem"]["allOf"] == [{"$ref": "#/components/schemas/ProblemEnum"}]
    assert "login" in components["ProblemEnum"]["enum"]
    assert report["country"]["pattern"] == "^[A-Za-z]{2}$"
    # A code or empty (none), which the API takes as no subdivision.
    assert [o.get("pattern", o.get("maxLength")) for o in report["subdivision"]["oneOf"]] == [
        "^([A-Za-z]{2}-)?[A-Za-z0-9]{1,3}$",
        0,
    ]
    assert components["BatchInputRequest"]["properties"]["reports"]["minItems"] == 1


def test_responses_from_below_the_views_are_documented(api):
    schema = api.get("/api/v1/schema?format=json").json()
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            responses = operation["responses"]
            # gunicorn's refusal of a long request line, its own HTML page.
            assert "text/html" in responses["414"]["content"], (method, path)
            if "requestBody" in operation:
                assert "413" in responses, (method, path)
            # A database outage (tests/test_database_down.py): the error shape, and when to
            # try again.
            unavailable = responses["503"]
            assert unavailable["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/Error"
            }, (method, path)
            assert unavailable["headers"]["Retry-After"]["required"] is True, (method, path)


def test_docs_are_served_without_a_cdn(api):
    page = api.get("/api/v1/swagger").content.decode()
    assert "swagger-ui" in page and "cdn" not in page.lower() and "//unpkg" not in page
    assert api.get("/api/v1/redoc").status_code == 200


@pytest.fixture
def api_schema(db, tiktok, gmail, settings):
    # The generated traffic is far above any real client's; limits are not what is tested.
    settings.API_THROTTLE_ANON = "1000000/minute"
    settings.API_THROTTLE_TOKEN = "1000000/minute"
    settings.RATE_LIMIT_REPORTS = 1_000_000
    settings.BATCH_MAX_REPORTS = 20
    settings.WEBHOOK_MAX_SUBSCRIPTIONS = 1_000_000
    pagedata.build(tiktok=tiktok, gmail=gmail)
    # The WSGI app would close the test's connection (and its transaction) after each
    # request; Django's test client does the same as this.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield schemathesis.openapi.from_wsgi("/api/v1/schema", application, config=CONFIG)
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def token_header(db):
    user = User.objects.create_user("schema-partner", password="unused-password-123")
    # The contract is about content: ask for it uncompressed (schemathesis's in-process calls
    # do not undo gzip, which the API applies to anyone who accepts it).
    return {
        "Authorization": f"Token {Token.objects.create(user=user).key}",
        "Accept-Encoding": "identity",
    }


CONFIG = SchemathesisConfig.from_dict(
    {
        "checks": {
            # Schemathesis' list, less 5xx (never acceptable: not_a_server_error) and with 413:
            # a forbidden body that is also too long is refused for its length first.
            "negative_data_rejection": {
                "expected-statuses": [400, 401, 403, 404, 405, 406, 409, 413, 415, 422, 428, 429]
            }
        },
        # NUL is refused in every text field (tests/test_hostile_input.py); a schema cannot say
        # so without a pattern on each string.
        "generation": {"allow-x00": False},
    }
)

# The fields whose rules a schema cannot state, per operation: a schema-valid request may be
# refused naming one of these, and no other.
NOT_IN_SCHEMA = {
    # A slug of the catalogue, a problem that service offers, an assigned ISO 3166 code, a
    # subdivision of that country.
    "POST /api/v1/reports": {"service", "problem", "country", "subdivision"},
    # observed_at: within the last 24 hours (a date-time has no range).
    "POST /api/v1/reports/batch": {"service", "problem", "country", "subdivision", "observed_at"},
    "POST /api/v1/recoveries": {"service", "country", "subdivision"},
    # range excludes from/to/bucket; from before to, with at most 1,440 buckets; a problem
    # series spans at most 7 days; times between 2000 and 2100 (a date-time has no range).
    "GET /api/v1/services/{slug}/trend": {"range", "from", "to", "problem", "country"},
    "GET /api/v1/services/{slug}/heatmap": {"country"},  # required with level=subdivision
    # since before until, both between 2000 and 2100; a cursor comes only from a link.
    "GET /api/v1/outages": {"service", "country", "since", "until", "cursor"},
    "GET /api/v1/regions/{country}/services": {"country"},
    # A public address; known services and countries.
    "POST /api/v1/subscriptions": {"url", "services", "countries"},
    "PATCH /api/v1/subscriptions/{subscription_id}": {"url", "services", "countries"},
    # A public push endpoint; an assigned country code.
    "POST /api/v1/alerts/push": {"subscription.endpoint", "country"},
    # An http(s) URL: format "uri" also admits other schemes ("detection:last-pass").
    "POST /api/v1/alerts/push/unsubscribe": {"endpoint", "country"},
}
ITEM = re.compile(r"^reports\[\d+\]\.|\.\d+$")


def schema_valid_requests_are_accepted(ctx, response, case):
    """Schemathesis' positive_data_acceptance, less the refusals NOT_IN_SCHEMA allows."""
    if not case.meta.generation.mode.is_positive or response.status_code != 400:
        return None
    fields = {ITEM.sub("", name) for name in response.json().get("fields", {"body": []})}
    stray = fields - NOT_IN_SCHEMA.get(case.operation.label, set())
    assert not stray, f"schema-valid request refused for {sorted(stray)}: {response.text[:500]}"
    return None


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
    schema_valid_requests_are_accepted,
]
# Examples per operation and mode: enough to reach every parameter's invalid values, small
# enough that the whole contract test stays well under a minute.
EXAMPLES = 25


def test_api_keeps_its_contract(api_schema, token_header):
    # Driven by hand rather than with schemathesis.pytest.from_fixture, whose lazy loader
    # does not support the pytest in use; the checks and generation are the same.
    failures: dict[str, str] = {}
    calls = []
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 17
    for operation, mode in [
        (op, mode)
        for op in operations
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    ]:

        @given(case=operation.as_strategy(generation_mode=mode))
        @hypothesis_settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def run(case):
            calls.append(case.operation.label)
            case.call_and_validate(headers=token_header, checks=CHECKS)

        try:
            run()
        except Unsatisfiable:
            # Nothing to negate: no parameter or body with a constraint to break.
            if mode is not GenerationMode.NEGATIVE:
                raise
        except BaseException as exc:  # noqa: BLE001 - failure groups are collected, reported below
            if isinstance(exc, KeyboardInterrupt):
                raise
            failures[f"{operation.label} ({mode.value})"] = str(exc)[:2000]
    assert len(calls) >= 20 * len(operations)
    assert not failures, "\n\n".join(f"{k}:\n{v}" for k, v in failures.items())

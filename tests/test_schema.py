"""The OpenAPI contract: it is served, and the live API keeps it. Schemathesis generates
requests from the schema (valid and invalid) for every operation and checks each response:
no server errors, a documented status code and content type, a body matching its schema."""

import pytest
import schemathesis
from django.contrib.auth.models import User
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

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
    pagedata.build(tiktok=tiktok, gmail=gmail)
    # The WSGI app would close the test's connection (and its transaction) after each
    # request; Django's test client does the same as this.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield schemathesis.openapi.from_wsgi("/api/v1/schema", application)
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def token_header(db):
    user = User.objects.create_user("schema-partner", password="unused-password-123")
    return {"Authorization": f"Token {Token.objects.create(user=user).key}"}


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Examples per operation: enough to reach every parameter's invalid values, small enough
# that the whole contract test stays well under a minute.
EXAMPLES = 25


def test_api_keeps_its_contract(api_schema, token_header):
    # Driven by hand rather than with schemathesis.pytest.from_fixture, whose lazy loader
    # does not support the pytest in use; the checks and generation are the same.
    failures: dict[str, str] = {}
    calls = []
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 17
    for operation in operations:

        @given(case=operation.as_strategy())
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
        except BaseException as exc:  # noqa: BLE001 - failure groups are collected, reported below
            if isinstance(exc, KeyboardInterrupt):
                raise
            failures[operation.label] = str(exc)[:2000]
    assert len(calls) >= 10 * len(operations)
    assert not failures, "\n\n".join(f"{k}:\n{v}" for k, v in failures.items())

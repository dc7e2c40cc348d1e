"""The app as gunicorn serves it (started here the way the intake benchmark starts it, gthread
workers as in docker/start-web.sh): a chunked body is read and capped like any other, and the
server's own refusal of a long request line is the one the schema documents."""

import http.client
import json
import os
from collections.abc import Iterator

import pytest
from django.contrib.auth.models import User
from django.db import connection
from rest_framework.authtoken.models import Token

from bench.intake import free_port, start_gunicorn, stop_gunicorn, wait_ready
from reports.models import Report, Source

pytestmark = pytest.mark.django_db(transaction=True)

REPORT = {"service": "tiktok", "problem": "upload", "country": "BR", "comment": "stuck"}


@pytest.fixture(scope="module")
def server(django_db_setup, tmp_path_factory) -> Iterator[int]:
    # The test database, which this module's tests commit to (transaction=True).
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "RATE_LIMIT_REPORTS": "1000",
    }
    port = free_port()
    process = start_gunicorn(env, port, tmp_path_factory.mktemp("gunicorn") / "gunicorn.log")
    try:
        wait_ready(port, process)
        yield port
    finally:
        stop_gunicorn(process)


def call(port, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, r.getheader("Content-Type"), r.read()
    finally:
        conn.close()


def chunks(data: bytes, size: int = 100) -> Iterator[bytes]:
    # An iterable body: http.client sends it with Transfer-Encoding: chunked, no length.
    for i in range(0, len(data), size):
        yield data[i : i + size]


JSON = {"Content-Type": "application/json"}


def test_a_chunked_report_is_read_and_stored(server, tiktok):
    status, _, body = call(
        server, "POST", "/api/v1/reports", chunks(json.dumps(REPORT).encode()), JSON
    )
    assert status == 201, body
    assert json.loads(body)["comment"] == "stuck"
    assert Report.objects.filter(service=tiktok, source=Source.API, comment="stuck").count() == 1


def test_a_chunked_batch_is_read_and_stored(server, tiktok):
    user = User.objects.create_user("chunked", password="unused-password-123")
    headers = {**JSON, "Authorization": f"Token {Token.objects.create(user=user).key}"}
    batch = json.dumps({"reports": [REPORT] * 500}).encode()
    status, _, body = call(server, "POST", "/api/v1/reports/batch", chunks(batch, 4096), headers)
    assert status == 201, body
    assert json.loads(body) == {"created": 500}
    assert Report.objects.filter(source=Source.BATCH).count() == 500


def test_a_chunked_body_over_the_cap_is_refused(server, tiktok, settings):
    oversized = json.dumps({**REPORT, "comment": "x" * settings.REPORT_MAX_BODY}).encode()
    status, content_type, body = call(server, "POST", "/api/v1/reports", chunks(oversized), JSON)
    assert status == 413 and content_type == "application/json"
    message = f"Request body too large: at most {settings.REPORT_MAX_BODY} bytes."
    assert json.loads(body) == {
        "error": "too_large",
        "message": message,
        "fields": {"body": [message]},
    }
    assert Report.objects.count() == 0


def test_a_request_line_over_the_servers_limit_is_the_documented_414(server, db):
    status, content_type, _ = call(server, "GET", "/api/v1/services?q=" + "x" * 5000)
    assert status == 414
    status, _, raw = call(server, "GET", "/api/v1/schema?format=json")
    assert status == 200
    documented = json.loads(raw)["paths"]["/api/v1/services"]["get"]["responses"]["414"]
    assert content_type in documented["content"]

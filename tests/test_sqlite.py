"""The embedded default (SQLite, in-process cache) must keep working: `make run` uses it."""

import textwrap

import pytest

from tests.embedded import run_on_embedded_default

SCRIPT = textwrap.dedent(
    """
    import json
    import django
    django.setup()
    from django.core.management import call_command
    from django.contrib.auth.models import User
    from django.test import Client
    from rest_framework.authtoken.models import Token
    from reports.models import Report

    call_command("migrate", verbosity=0)
    call_command("seed_services", verbosity=0)
    c = Client()
    r = c.post("/api/v1/reports", json.dumps({"service": "tiktok", "problem": "upload",
               "country": "BR", "subdivision": "BR-SP"}), content_type="application/json")
    assert r.status_code == 201, r.content
    r = c.post("/api/v1/reports", json.dumps({"service": "tiktok", "problem": "upload",
               "country": "BR"}), content_type="application/json")
    assert r.status_code == 200, r.content
    token = Token.objects.create(user=User.objects.create_user("p", password="x" * 12))
    item = {"service": "gmail", "problem": "email", "country": "US"}
    r = c.post("/api/v1/reports/batch", json.dumps({"reports": [item] * 1200}),
               content_type="application/json", HTTP_AUTHORIZATION="Token " + token.key)
    assert r.status_code == 201, r.content
    bad = c.post("/api/v1/reports/batch", json.dumps({"reports": [item, {**item, "country": "X"}]}),
                 content_type="application/json", HTTP_AUTHORIZATION="Token " + token.key)
    assert bad.status_code == 400
    page = c.get("/tiktok/report")
    assert page.status_code == 200
    print(Report.objects.count())
    """
)


@pytest.mark.sqlite
def test_intake_works_on_the_embedded_default(tmp_path):
    out = run_on_embedded_default(SCRIPT, tmp_path, DEBUG="true")
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().splitlines()[-1] == "1201"
    assert (tmp_path / "outages.sqlite3").exists()

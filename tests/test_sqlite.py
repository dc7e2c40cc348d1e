"""The embedded default (SQLite, in-process cache) must keep working: `make run` uses it."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

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
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL")
    }
    env.update(
        OUTAGES_VAR_DIR=str(tmp_path),
        DJANGO_SETTINGS_MODULE="outages.settings",
        DEBUG="true",
    )
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().splitlines()[-1] == "1201"
    assert (tmp_path / "outages.sqlite3").exists()

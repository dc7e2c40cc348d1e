"""End to end with a real Celery worker on Redis: reports in → incident opened with the right
countries and problems → reports stop → incident resolved."""

import os
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from analytics.tasks import detect_task
from outages.models import Incident, ServiceStatus
from tests.analytics.test_detection_run import burst, steady_history

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def worker(transactional_db):
    if connection.vendor != "postgresql" or not settings.REDIS_URL:
        pytest.skip("needs PostgreSQL and Redis")
    queue = f"e2e-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        # The worker must see the test database, where this test commits its rows.
        "DATABASE_URL": os.environ["DATABASE_URL"].rsplit("/", 1)[0]
        + "/"
        + connection.settings_dict["NAME"],
        "REDIS_URL": settings.REDIS_URL,
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool=solo",
            "-Q",
            queue,
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
            "--loglevel=INFO",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    yield queue
    proc.terminate()
    try:
        output, _ = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        output, _ = proc.communicate()
    sys.stdout.write(output[-4000:])


def wait_for(predicate, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.25)
    return False


def test_reports_in_outage_opened_then_resolved(worker, tiktok, gmail):
    now = timezone.now()
    steady_history(tiktok, end=now)
    steady_history(gmail, end=now, seed=2)
    burst(tiktok, end=now)
    detect_task.apply_async(kwargs={"now": now.isoformat()}, queue=worker)
    # The incident row is committed first and its breakdown right after it.
    assert wait_for(
        lambda: Incident.objects.filter(service=tiktok, ended_at=None).exclude(regions=[]).exists()
    )
    incident = Incident.objects.get(service=tiktok, country="", ended_at=None)
    assert incident.level == "outage"
    assert incident.regions[0]["country"] == "BR"
    assert incident.problems[0]["problem"] == "upload"
    assert not Incident.objects.filter(service=gmail).exists()

    # No more burst; the usual trickle would continue but for this test reports simply stop.
    later = now + timedelta(minutes=45)
    detect_task.apply_async(kwargs={"now": later.isoformat()}, queue=worker)
    assert wait_for(lambda: Incident.objects.get(id=incident.id).ended_at is not None)
    assert Incident.objects.filter(ended_at=None).count() == 0


def test_a_worker_that_starts_runs_a_pass_at_once(worker, tiktok):
    # No beat and nothing enqueued by the test: only the worker's own start asks for a pass,
    # which writes every service's status.
    assert wait_for(lambda: ServiceStatus.objects.filter(service=tiktok).exists())
